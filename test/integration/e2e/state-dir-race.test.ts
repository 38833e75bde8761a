import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeExec, nodeSpawn, userExec, type LabInfo, type LabNode } from "../../../src/lab/index.js";
import { defaultVmStateDir, jobStateDir, VM_STATE_ROOT } from "../../../src/vm/index.js";
import {
  e2eSetup,
  expectJobGone,
  expectNodesClean,
  jobIdFrom,
  spawnPcocc,
  TINY,
  waitUntil,
  type NodeSnapshot,
} from "./support.js";

// enough files that the removal outlasts the racer's inotify wake-up and rename: with 200, a removal on a
// quiet core once finished first ("rename: No such file or directory"), and the race was missed, not won
const FILES = 2000;

/**
 * Issue 10, holes 1 and 7: the job's user races root's removal of the job's VM state (a directory they can
 * write) to make root delete a root-owned directory, and another user tries to take or block a VM's state
 * directory before the job starts.
 */
describe("VM state directories against hostile users", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let racer: string;
  const victim = `/var/tmp/pcocc-victim-${process.pid}`;

  beforeAll(async () => {
    ({ info, baseline } = await e2eSetup({ secondUser: true }));
    const src = readFileSync(fileURLToPath(new URL("fixtures/state-dir-racer.c", import.meta.url)), "utf8");
    racer = `${info.user.home}/state-dir-racer`;
    const w = await userExec(info, ["sh", "-c", `cat > ${racer}.c`], { input: src });
    expect(w.code, w.stderr).toBe(0);
    const cc = await userExec(info, ["cc", "-O2", "-Wall", "-o", racer, `${racer}.c`]);
    expect(cc.code, cc.stderr).toBe(0);
  });

  afterAll(async () => {
    if (info) await Promise.all(info.nodes.map((n) => nodeExec(n, ["rm", "-rf", victim])));
  });

  /** The node SLURM put the job's single VM on. */
  async function nodeOf(jobId: number): Promise<LabNode> {
    const name = await waitUntil("the job's node", async () => {
      const r = await userExec(info, ["squeue", "-h", "-j", String(jobId), "-o", "%N"]);
      return r.stdout.trim() || undefined;
    });
    const node = info.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`job ${jobId} runs on unknown node ${name}`);
    return node;
  }

  /** A one-VM job of `user`, up to its VM running. */
  async function startJob(user = info.user) {
    const run = spawnPcocc(info, ["alloc", "-c1", "-E", "sleep 600", `${TINY}:1`], { user });
    const jobId = await waitUntil("the allocation", async () => jobIdFrom(run.out.stderr), 60_000);
    await waitUntil("the VM running", async () => /starting VMs 1\/1/.test(run.out.stderr), 300_000, 200);
    return { run, jobId, node: await nodeOf(jobId) };
  }

  async function victimFiles(node: LabNode): Promise<string[]> {
    const r = await nodeExec(node, ["sh", "-c", `find ${victim} -mindepth 1 -user root -name 'f*' | sort`]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.split("\n").filter((l) => l !== "");
  }

  for (const attempt of [1, 2, 3])
    it(`root's removal of the job's state never reaches a swapped-in root directory (try ${attempt})`, async () => {
      const { run, jobId, node } = await startJob();
      const made = await nodeExec(node, [
        "sh",
        "-c",
        `rm -rf ${victim} && mkdir -m 755 ${victim} && cd ${victim} && for i in $(seq -f %03g 0 ${FILES - 1}); do : > f$i; done`,
      ]);
      expect(made.code, made.stderr).toBe(0);
      expect(await victimFiles(node)).toHaveLength(FILES);

      // the job's directory: the user's, 0700, in a root-owned directory nobody else can write
      const dir = jobStateDir(jobId);
      const st = await nodeExec(node, ["stat", "-c", "%U %a %F", dir, VM_STATE_ROOT]);
      expect(st.stdout.trim().split("\n")).toEqual([`${info.user.name} 700 directory`, "root 755 directory"]);

      // the racer outlives the job: it runs on the node as the same user, outside the job's steps
      const child = nodeSpawn(node, [racer, dir, victim, String(FILES)], { user: info.user });
      let out = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
      let ended = false;
      const racerExit = new Promise<number | null>((r) =>
        child.on("close", (code) => {
          ended = true;
          r(code);
        }),
      );
      await waitUntil("the racer to be ready", async () => out.includes("ready") || ended);
      expect(out).toContain("ready");

      const c = await userExec(info, ["scancel", String(jobId)]);
      expect(c.code, c.stderr).toBe(0);
      expect(await racerExit, out).toBe(0);
      // the swap happened while the state was being removed: the race was run, not missed
      expect(out).toContain("swapped");
      await run.exited;
      await expectJobGone(info, jobId);

      expect(await victimFiles(node)).toHaveLength(FILES);
      await waitUntil(
        "the job's state to be gone",
        async () => (await nodeExec(node, ["test", "-e", dir])).code === 1,
      );
      await expectNodesClean(info, baseline);
    });

  it("another user can neither block nor take a job's VM state directory", async () => {
    // the ids the next jobs get: SLURM numbers them in order
    const probe = await userExec(info, ["sbatch", "--parsable", "-N1", "--wrap", "true"]);
    expect(probe.code, probe.stderr).toBe(0);
    const lastId = Number(probe.stdout.trim().split(";")[0]);
    expect(Number.isInteger(lastId) && lastId > 0, probe.stdout).toBe(true);
    const next = [1, 2, 3].map((i) => lastId + i);
    // the old predictable names in /tmp, and attempts at the new ones, on every node, as the other user
    for (const n of info.nodes)
      for (const id of next) {
        const pre = await nodeExec(n, ["mkdir", "-p", `/tmp/.pcocc_${id}_vm_0/x`], { user: info.user2 });
        expect(pre.code, pre.stderr).toBe(0);
        for (const path of [jobStateDir(id), defaultVmStateDir(id, 0)]) {
          const take = await nodeExec(n, ["mkdir", "-p", path], { user: info.user2 });
          expect(take.code, `${info.user2.name} made ${path}`).not.toBe(0);
        }
      }
    try {
      const { run, jobId, node } = await startJob();
      expect(next).toContain(jobId);
      const vmDir = defaultVmStateDir(jobId, 0);
      const mine = await nodeExec(node, ["stat", "-c", "%U", `${vmDir}/vm.json`]);
      expect(mine.stdout.trim(), mine.stderr).toBe(info.user.name);
      const peek = await nodeExec(node, ["ls", vmDir], { user: info.user2 });
      expect(peek.code).not.toBe(0);
      expect(peek.stderr).toMatch(/Permission denied/);
      const c = await userExec(info, ["scancel", String(jobId)]);
      expect(c.code, c.stderr).toBe(0);
      await run.exited;
      await expectJobGone(info, jobId);
      // root left the other user's directory alone
      const old = await nodeExec(node, ["stat", "-c", "%U", `/tmp/.pcocc_${jobId}_vm_0/x`]);
      expect(old.stdout.trim(), old.stderr).toBe(info.user2.name);
    } finally {
      for (const n of info.nodes)
        await nodeExec(n, ["sh", "-c", next.map((id) => `rm -rf /tmp/.pcocc_${id}_vm_0`).join("; ")]);
    }
    await expectNodesClean(info, baseline);
  });
});
