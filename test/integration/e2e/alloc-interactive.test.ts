import type { IPty } from "node-pty";
import { beforeAll, describe, expect, it } from "vitest";
import { userEnv, type LabInfo } from "../../../src/lab/index.js";
import {
  e2eSetup,
  expectJobGone,
  expectNoJobKeys,
  expectNodesClean,
  TINY,
  waitUntil,
  type NodeSnapshot,
} from "./support.js";

/** A terminal session: everything the pty printed, and a way to wait for a pattern after a point. */
class Session {
  text = "";
  exit: Promise<number>;
  constructor(readonly pty: IPty) {
    pty.onData((d) => (this.text += d));
    this.exit = new Promise((resolve) => pty.onExit(({ exitCode }) => resolve(exitCode)));
  }
  mark(): number {
    return this.text.length;
  }
  async expect(re: RegExp, from = 0, timeoutMs = 180_000): Promise<RegExpExecArray> {
    return waitUntil(
      `${re} on the terminal (tail: ${JSON.stringify(this.text.slice(-300))})`,
      async () => re.exec(this.text.slice(from)) ?? undefined,
      timeoutMs,
      200,
    );
  }
}

describe("interactive pcocc alloc through a pty", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let userData: string;

  beforeAll(async () => {
    ({ info, userData, baseline } = await e2eSetup());
  });

  it("shows the (pcocc/<id>) prompt, attaches vm0's console and detaches with Ctrl-C x3, exit tears down", async () => {
    const { spawn } = await import("node-pty");
    const u = info.user;
    const pty = spawn(
      "setpriv",
      [
        `--reuid=${u.uid}`,
        `--regid=${u.gid}`,
        "--init-groups",
        "--",
        "pcocc",
        "alloc",
        "-N2",
        "-c1",
        "--user-data",
        userData,
        `${TINY}:2`,
      ],
      { name: "xterm", cols: 160, rows: 40, cwd: u.home, env: { ...userEnv(info, u), TERM: "xterm" } },
    );
    const s = new Session(pty);
    const prompt = await s.expect(/\(pcocc\/(\d+)\)/);
    const jobId = Number(prompt[1]);

    let at = s.mark();
    pty.write("echo ENV=$PCOCC_ALLOCATION/$PCOCC_JOB_ID/$SLURM_JOB_ID\r");
    await s.expect(new RegExp(`ENV=1/${jobId}/${jobId}`), at);

    at = s.mark();
    pty.write("pcocc console vm0\r");
    // the guest's getty answers on the serial console once we poke it
    await waitUntil(
      "vm0's console to answer",
      async () => {
        pty.write("\r");
        return /login:/.test(s.text.slice(at)) || undefined;
      },
      180_000,
      3000,
    );
    at = s.mark();
    pty.write("\x03\x03\x03");
    await s.expect(/Detaching/, at, 30_000);
    await s.expect(/\(pcocc\/\d+\)/, at, 30_000);

    at = s.mark();
    pty.write("exit\r");
    const code = await s.exit;
    expect(code, s.text.slice(at)).toBe(0);
    expect(s.text.slice(at)).toMatch(/Terminating the cluster/);
    await expectJobGone(info, jobId);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId);
  });
});
