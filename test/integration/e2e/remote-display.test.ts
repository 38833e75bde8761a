import { existsSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeExec, userExec, type LabInfo } from "../../../src/lab/index.js";
import { defaultVmStateDir, vmStatePaths } from "../../../src/vm/index.js";
import { e2eSetup, expectJobGone, jobIdFrom, spawnPcocc, TINY, waitUntil } from "./support.js";

const TEMPLATE = "spice-tiny";

/** A SPICE client's first words: SpiceLinkHeader ("REDQ", protocol 2.2) + SpiceLinkMess for the main channel. */
function spiceLinkMessage(): Buffer {
  const body = Buffer.alloc(18);
  body.writeUInt8(1, 4); // channel type: main
  body.writeUInt32LE(18, 14); // caps offset (no caps)
  const head = Buffer.alloc(16);
  head.write("REDQ", 0, "latin1");
  head.writeUInt32LE(2, 4);
  head.writeUInt32LE(2, 8);
  head.writeUInt32LE(body.length, 12);
  return Buffer.concat([head, body]);
}

/** The server's SpiceLinkHeader and link error code, read from `path`. */
function spiceHandshake(path: string): Promise<{ magic: string; major: number; error: number }> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => s.write(spiceLinkMessage()));
    let got = Buffer.alloc(0);
    s.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 20) return;
      s.destroy();
      resolve({
        magic: got.toString("latin1", 0, 4),
        major: got.readUInt32LE(4),
        error: got.readUInt32LE(16),
      });
    });
    s.once("error", reject);
    setTimeout(() => reject(new Error(`no SPICE answer on ${path}`)), 60_000).unref();
  });
}

/**
 * Issue 12: `remote-display: spice` and `pcocc display -p`. The VM's SPICE server listens on a unix socket
 * in its state directory; `pcocc display -p` on the login node prints a local address whose connections go
 * through the job to it. A SPICE link handshake through it is answered; another user can reach neither
 * the VM's socket on its node nor the login node's relay.
 */
describe("pcocc display (SPICE) from the login node", () => {
  let info: LabInfo;
  let templates: string;
  let jobId: number | undefined;

  beforeAll(async () => {
    ({ info } = await e2eSetup({ secondUser: true }));
    templates = `${info.user.home}/.pcocc/templates.yaml`;
    expect(existsSync(templates), `${templates} exists already: this test would replace it`).toBe(false);
    const doc = `${TEMPLATE}:\n  inherits: ${TINY}\n  remote-display: spice\n`;
    const w = await userExec(info, ["sh", "-c", `mkdir -p ~/.pcocc && cat > ${templates}`], { input: doc });
    expect(w.code, w.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    if (jobId) {
      await userExec(info, ["scancel", String(jobId)]);
      await expectJobGone(info, jobId, 180_000);
    }
    await userExec(info, ["rm", "-f", templates]);
  }, 300_000);

  it("answers a SPICE link through the relay; only the job's user gets in", async () => {
    const run = spawnPcocc(info, [
      "alloc",
      "-c1",
      "-E",
      "echo CLUSTER-UP; sleep 900",
      `${TEMPLATE}:1,${TINY}:1`,
    ]);
    jobId = await waitUntil("the allocation", async () => jobIdFrom(run.out.stderr), 60_000);
    await waitUntil("the cluster", async () => run.out.stdout.includes("CLUSTER-UP"), 300_000);

    const display = spawnPcocc(info, ["display", "-p", "-j", String(jobId), "vm0"]);
    try {
      const uri = await waitUntil(
        "the address",
        async () => /^spice\+unix:\/\/(\S+)$/m.exec(display.out.stdout) ?? undefined,
      );
      const relay = uri[1]!;
      const reply = await spiceHandshake(relay);
      expect(reply).toEqual({ magic: "REDQ", major: 2, error: 0 });

      const probe = (path: string) =>
        `require("net").connect(${JSON.stringify(path)}).on("connect",()=>{console.log("CONNECTED");process.exit(0)})` +
        `.on("error",(e)=>{console.log(e.code);process.exit(0)})`;
      const other = await userExec(info, ["node", "-e", probe(relay)], { user: info.user2 });
      expect(other.stdout.trim()).toBe("EACCES");
      for (const node of info.nodes) {
        const sock = vmStatePaths(defaultVmStateDir(jobId, 0)).spiceSocket;
        if ((await nodeExec(node, ["test", "-S", sock])).code !== 0) continue;
        const r = await nodeExec(node, ["node", "-e", probe(sock)], { user: info.user2 });
        expect(r.stdout.trim(), `${info.user2.name} on ${node.name}`).toBe("EACCES");
      }
    } finally {
      display.child.kill("SIGTERM");
      await display.exited;
    }

    const none = await userExec(info, ["pcocc", "display", "-p", "-j", String(jobId), "vm1"]);
    expect(none.code).toBe(255);
    // first line ours; srun, which ran it on vm1's node, may add its own after it
    expect(none.stderr).toMatch(/^pcocc: vm1 has no valid remote display\n/);
  }, 600_000);
});
