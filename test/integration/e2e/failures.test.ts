import { beforeAll, describe, expect, it } from "vitest";
import { nodeExec, userExec, type LabInfo } from "../../../src/lab/index.js";
import { defaultVmStateDir } from "../../../src/vm/index.js";
import {
  e2eSetup,
  expectJobGone,
  expectNoJobKeys,
  expectNodesClean,
  jobIdFrom,
  leftovers,
  nodeSnapshot,
  spawnPcocc,
  TINY,
  waitUntil,
  type NodeSnapshot,
} from "./support.js";

describe("failures end with a clear message and clean nodes", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];
  let userData: string;

  beforeAll(async () => {
    ({ info, userData, baseline } = await e2eSetup());
  });

  const start = (def = `${TINY}:2`) =>
    spawnPcocc(info, ["alloc", "-N2", "-c1", "-E", "sleep 600", "--user-data", userData, def]);

  it("scancel during start-up", async () => {
    const run = start();
    const jobId = await waitUntil("the allocation", async () => jobIdFrom(run.out.stderr), 60_000);
    await waitUntil(
      "start-up progress",
      async () => /configuring hosts|starting VMs/.test(run.out.stderr),
      60_000,
      100,
    );
    const c = await userExec(info, ["scancel", String(jobId)]);
    expect(c.code, c.stderr).toBe(0);
    const code = await run.exited;
    expect(code).not.toBe(0);
    expect(run.out.stderr).toMatch(/revoked|interrupted|terminated|Failed to start cluster/);
    await expectJobGone(info, jobId);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId);
  });

  it("kill -9 of a hypervisor", async () => {
    const run = start();
    const jobId = await waitUntil("the allocation", async () => jobIdFrom(run.out.stderr), 60_000);
    await waitUntil("both VMs running", async () => /starting VMs 2\/2/.test(run.out.stderr), 300_000, 200);
    // block distribution: vm1 runs on the second node
    const node = info.nodes[1]!;
    // the snapshot sees what a job puts on a node, so "clean" below is a real check
    const during = leftovers(baseline[1]!, await nodeSnapshot(info, node));
    expect(during.links?.length, JSON.stringify(during)).toBeGreaterThan(0);
    expect(during.processes?.length, JSON.stringify(during)).toBeGreaterThan(0);
    const pid = await waitUntil("vm1's hypervisor pid", async () => {
      const r = await nodeExec(node, ["cat", `${defaultVmStateDir(jobId, 1)}/vm.json`]);
      return r.code === 0 ? (JSON.parse(r.stdout) as { pid: number }).pid : undefined;
    });
    const k = await nodeExec(node, ["kill", "-9", String(pid)]);
    expect(k.code, k.stderr).toBe(0);
    const code = await run.exited;
    expect(code).not.toBe(0);
    expect(run.out.stderr).toMatch(/The cluster terminated unexpectedly/);
    await expectJobGone(info, jobId);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId);
  });

  it("a node whose setup fails (its Open vSwitch unreachable)", async () => {
    // hide node2's OVSDB socket from processes started on node2 from now on; ovs itself keeps running
    const node = info.nodes[1]!;
    const hide = await nodeExec(node, [
      "sh",
      "-c",
      "mkdir -p /tmp/e2e-no-ovs && mount --bind /tmp/e2e-no-ovs /run/openvswitch",
    ]);
    expect(hide.code, hide.stderr).toBe(0);
    let jobId: number | undefined;
    try {
      const run = start();
      const code = await run.exited;
      jobId = jobIdFrom(run.out.stderr);
      expect(jobId, run.out.stderr).toBeDefined();
      expect(code).toBe(255);
      expect(run.out.stderr).toMatch(/Failed to start cluster: .*(node2|node rank 1)/s);
    } finally {
      await nodeExec(node, ["umount", "/run/openvswitch"]);
    }
    await expectJobGone(info, jobId!);
    await expectNodesClean(info, baseline);
    await expectNoJobKeys(info, jobId!);
  });
});
