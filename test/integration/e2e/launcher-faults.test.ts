import { existsSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { userExec, type LabInfo } from "../../../src/lab/index.js";
import { processTree } from "../../../src/slurm/process-tree.js";
import { exitStatus } from "../../../src/util/exit-status.js";
import { processStartTime } from "../../../src/util/proc.js";
import {
  e2eSetup,
  expectJobGone,
  expectNoJobKeys,
  expectNodesClean,
  jobIdFrom,
  spawnPcocc,
  TINY,
  waitUntil,
  type NodeSnapshot,
} from "./support.js";

/** A number the front script of `run` wrote into a file, once it is there; fails if `run` ends first. */
async function waitForNumber(file: string, run: ReturnType<typeof spawnPcocc>): Promise<number> {
  let ended = false;
  void run.exited.then(() => (ended = true));
  const n = await waitUntil(
    `${file} to be written`,
    async () => {
      const text = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
      if (/^\d+$/.test(text)) return Number(text);
      return ended ? -1 : undefined;
    },
    300_000,
    200,
  );
  if (n < 0) throw new Error(`pcocc alloc ended before writing ${file}:\n${run.out.stderr}`);
  return n;
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
};

describe("the launcher and the front process fail loudly and leave nothing behind", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let userData: string;

  beforeAll(async () => {
    ({ info, userData, baseline } = await e2eSetup({ secondUser: true }));
    // each user's first job, on one node: it creates their keystore account (the second user's ckpt below
    // must get as far as the job), and a first job on several nodes is issue 10's fault 13, not tested here
    for (const user of [info.user, info.user2]) {
      const first = spawnPcocc(info, ["alloc", "-N1", "-c1", "-E", "true", `${TINY}:1`], { user });
      const code = await Promise.race([first.exited, new Promise((r) => setTimeout(r, 120_000, "hung"))]);
      expect(code, `${user.name}'s first job:\n${first.out.stderr}`).toBe(0);
    }
  });

  it("the -E script killed by SIGTERM: pcocc alloc exits 143", async () => {
    const pidFile = `${info.user.home}/e2e-front-${process.pid}.pid`;
    const script = `echo $$ > ${pidFile}; exec sleep 600`;
    const run = spawnPcocc(info, ["alloc", "-N1", "-c1", "-E", script, "--user-data", userData, `${TINY}:1`]);
    try {
      const front = await waitForNumber(pidFile, run);
      expect(cmdline(front)).toBe("sleep 600");
      process.kill(front, "SIGTERM");
      const code = await run.exited;
      expect(code, run.out.stderr).toBe(143);
      const jobId = jobIdFrom(run.out.stderr)!;
      await expectJobGone(info, jobId);
      await expectNodesClean(info, baseline);
      await expectNoJobKeys(info, jobId);
    } finally {
      run.child.kill("SIGKILL");
      await userExec(info, ["rm", "-f", pidFile]);
    }
  });

  it("kill -9 of the launcher: one clear line, non-zero, nothing left on the login node or the nodes", async () => {
    const home = info.user.home;
    const files = { launcher: `${home}/e2e-launcher.pid`, sleeper: `${home}/e2e-sleeper.pid` };
    await userExec(info, ["rm", "-f", files.launcher, files.sleeper]);
    // the script's parent is the launcher; it leaves a child of its own running, as scripts do
    const script = `echo $PPID > ${files.launcher}; sleep 600 & echo $! > ${files.sleeper}; wait`;
    const run = spawnPcocc(info, ["alloc", "-N2", "-c1", "-E", script, "--user-data", userData, `${TINY}:2`]);
    try {
      const launcher = await waitForNumber(files.launcher, run);
      await waitForNumber(files.sleeper, run);
      const jobId = jobIdFrom(run.out.stderr)!;
      expect(cmdline(launcher)).toMatch(/ internal launcher /);

      // hole 12: another user's ckpt of this job is refused before it creates anything
      const dir = `${info.user2.home}/e2e-ckpt-other-${process.pid}`;
      for (const target of [
        ["-j", String(jobId)],
        ["-j", String(jobId), "--user", info.user.name],
      ]) {
        const c = await userExec(info, ["pcocc", "ckpt", ...target, dir], { user: info.user2 });
        expect(c.code, c.stderr).not.toBe(0);
        expect(c.stderr).toMatch(/not a running pcocc cluster|permission denied/i);
        expect(existsSync(dir), `${dir} after: pcocc ckpt ${target.join(" ")}`).toBe(false);
      }

      // everything of the job on the login node: the launcher, the script, its sleep, srun
      const tree = processTree(launcher).map((pid) => ({
        pid,
        start: processStartTime(pid),
        cmd: cmdline(pid),
      }));
      expect(tree.map((p) => p.cmd).join("\n")).toMatch(/^srun .*--vm/m);
      expect(tree.map((p) => p.cmd)).toContain("sleep 600");
      // pcocc alloc's own end, not its pipes': an orphaned script would hold those open
      const allocExit = new Promise<number | string>((resolve) => {
        const t = setTimeout(resolve, 120_000, "still running after 120 s");
        run.child.once("exit", (c, sig) => {
          clearTimeout(t);
          resolve(exitStatus(c, sig));
        });
      });
      process.kill(launcher, "SIGKILL");
      const code = await allocExit;
      expect(typeof code, run.out.stderr).toBe("number");
      expect(code, run.out.stderr).not.toBe(0);
      await Promise.race([run.exited, new Promise((r) => setTimeout(r, 30_000))]);
      const lines = run.out.stderr.split("\n").filter((l) => /launcher/.test(l));
      expect(lines, run.out.stderr).toEqual([
        `pcocc: the launcher of job ${jobId} was killed before the cluster ended: its script and hypervisors are ended`,
      ]);
      // at once, not eventually: pcocc alloc returned only after they were gone
      const left = tree.filter((p) => p.start !== undefined && processStartTime(p.pid) === p.start);
      expect(left, JSON.stringify(left)).toEqual([]);
      await expectJobGone(info, jobId);
      await expectNodesClean(info, baseline);
      await expectNoJobKeys(info, jobId);
    } finally {
      run.child.kill("SIGKILL");
      await userExec(info, ["rm", "-f", files.launcher, files.sleeper]);
    }
  });
});
