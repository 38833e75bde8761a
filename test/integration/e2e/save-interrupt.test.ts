import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { nodeExec, userExec, type LabInfo, type LabNode } from "../../../src/lab/index.js";
import { defaultVmStateDir } from "../../../src/vm/index.js";
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

/**
 * Issue 10, fault 11: `pcocc save` from the login node runs on the VM's node through an overlapping step.
 * Killing either end during the copy must end QEMU's block job and leave no staging layer and no revision.
 */
describe("pcocc save interrupted on the login node or on the VM's node", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let jobId: number;
  let node: LabNode;
  let run: ReturnType<typeof spawnPcocc>;
  let qemuPid: number;
  const staging = (): string => join(info.user.home, ".pcocc/images/.tmp");

  beforeAll(async () => {
    ({ info, baseline } = await e2eSetup());
    const userData = `${info.user.home}/save-interrupt.yaml`;
    const doc =
      "#cloud-config\nruncmd:\n  - dd if=/dev/urandom of=/data/big bs=1M count=48\n  - sync\n" +
      "  - echo big-written > /dev/console\n";
    const w = await userExec(info, ["sh", "-c", `cat > ${userData}`], { input: doc });
    expect(w.code, w.stderr).toBe(0);
    run = spawnPcocc(info, ["alloc", "-c1", "-E", "sleep 900", "--user-data", userData, `${TINY}:1`]);
    jobId = await waitUntil("the allocation", async () => jobIdFrom(run.out.stderr), 60_000);
    await waitUntil(
      "the guest's data",
      async () => {
        const r = await userExec(info, ["pcocc", "console", "-j", String(jobId), "-l", "vm0"]);
        return /^big-written/m.test(r.stdout);
      },
      300_000,
      1000,
    );
    const name = (await userExec(info, ["squeue", "-h", "-j", String(jobId), "-o", "%N"])).stdout.trim();
    node = info.nodes.find((n) => n.name === name)!;
    const vmJson = await nodeExec(node, ["cat", `${defaultVmStateDir(jobId, 0)}/vm.json`]);
    qemuPid = (JSON.parse(vmJson.stdout) as { qemuPid: number }).qemuPid;
  }, 600_000);

  /** The staging entry of the save in progress, once its copy has written past the layer's header. */
  function copying(): string | undefined {
    for (const e of readdirSync(staging(), { withFileTypes: true })) {
      const size = (() => {
        try {
          return statSync(join(staging(), e.name, "save.qcow2")).size;
        } catch {
          return 0;
        }
      })();
      if (size > 1 << 20) return e.name;
    }
    return undefined;
  }

  /** The save's processes on the VM's node (nodes share the pid namespace: tell them by network namespace). */
  async function savePids(): Promise<string[]> {
    const r = await nodeExec(node, [
      "sh",
      "-c",
      `me=$(readlink /proc/self/ns/net); for p in $(pgrep -u ${info.user.name} -f 'bin/pcocc save'); do ` +
        '[ "$(readlink /proc/$p/ns/net)" = "$me" ] && echo $p; done; true',
    ]);
    return r.stdout.split("\n").filter((l) => l.trim() !== "");
  }

  for (const side of ["login node", "VM's node"] as const)
    it(`a save killed on the ${side} during its copy ends it and commits nothing`, async () => {
      // a name of this run's own: a revision left by an earlier run must not decide this one
      const image = `user:interrupted-${side === "login node" ? "front" : "node"}-${process.pid}`;
      const save = spawnPcocc(info, ["save", "-j", String(jobId), "--full", "-d", image, "vm0"]);
      const entry = await waitUntil("the copy to start", async () => copying(), 120_000, 5);
      // QEMU frozen: the save dies with its block job unfinished, whichever process is killed
      expect((await nodeExec(node, ["kill", "-STOP", String(qemuPid)])).code).toBe(0);
      if (side === "login node") save.child.kill("SIGKILL");
      else {
        const pids = await savePids();
        expect(pids.length, "the save on the node").toBeGreaterThan(0);
        expect((await nodeExec(node, ["kill", "-9", ...pids])).code).toBe(0);
      }
      expect((await nodeExec(node, ["kill", "-CONT", String(qemuPid)])).code).toBe(0);
      expect(await save.exited).not.toBe(0);

      await waitUntil("the save on the node to end", async () => (await savePids()).length === 0, 90_000);
      await waitUntil("its staging entry to go", async () => !readdirSync(staging()).includes(entry), 30_000);
      const jobs = await userExec(info, [
        "pcocc",
        "monitor-cmd",
        "-j",
        String(jobId),
        "vm0",
        "info",
        "block-jobs",
      ]);
      expect(jobs.stdout + jobs.stderr).toMatch(/No active jobs/);
      const list = await userExec(info, ["pcocc", "image", "list", "-R", "user"]);
      expect(list.stdout).not.toContain(image.slice("user:".length));
    });

  it("repo gc on the login node removes a node's abandoned staging entry and keeps a live one", async () => {
    // as a save on the VM's node leaves them: named after that node; one writer gone for 11 min, one writing
    const stale = `999999.${Date.now() - 3_600_000}.ab12cd34.${node.name}`;
    const live = `999998.${Date.now() - 3_600_000}.ab12cd35.${node.name}`;
    const make = await nodeExec(
      node,
      [
        "sh",
        "-c",
        `cd ${staging()} && mkdir ${stale} ${live} && : > ${stale}/save.qcow2 && ` +
          `touch -d '11 minutes ago' ${stale} && touch ${live}`,
      ],
      { user: info.user },
    );
    expect(make.code, make.stderr).toBe(0);
    try {
      const gc = await userExec(info, ["pcocc", "image", "repo", "gc", "user"]);
      expect(gc.code, gc.stderr).toBe(0);
      const left = readdirSync(staging());
      expect(left).not.toContain(stale);
      expect(left).toContain(live);
    } finally {
      await nodeExec(node, ["rm", "-rf", join(staging(), stale), join(staging(), live)]);
    }
  });

  it("the job still ends clean", async () => {
    const c = await userExec(info, ["scancel", String(jobId)]);
    expect(c.code, c.stderr).toBe(0);
    await run.exited;
    await expectJobGone(info, jobId);
    await expectNodesClean(info, baseline);
  });
});
