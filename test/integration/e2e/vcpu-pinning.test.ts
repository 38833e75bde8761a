import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeExec, userExec, type LabInfo, type LabNode } from "../../../src/lab/index.js";
import { defaultVmStateDir } from "../../../src/vm/index.js";
import { e2eSetup, expectJobGone, jobIdFrom, spawnPcocc, TINY, waitUntil } from "./support.js";

const EMU = "pin-emu";

/** CPUs of a thread or process as `taskset -p` reports them (a hex mask); undefined once it ended. */
async function affinity(node: LabNode, tid: number): Promise<number[] | undefined> {
  const r = await nodeExec(node, ["taskset", "-p", String(tid)]);
  if (r.code !== 0 && !existsSync(`/proc/${tid}`)) return undefined;
  expect(r.code, r.stderr).toBe(0);
  const mask = BigInt(`0x${/mask: ([0-9a-f]+)/.exec(r.stdout)![1]}`);
  const cpus: number[] = [];
  for (let c = 0; c < 64; c++) if ((mask >> BigInt(c)) & 1n) cpus.push(c);
  return cpus;
}

/**
 * Issue 12: `bind-vcpus` / `emulator-cores`. The lab runs SLURM with task/affinity and this job asks for
 * binding to cores, so each hypervisor task gets a cpuset of its own; inside it each vCPU thread QEMU names (`CPU n/TCG`)
 * must sit on one core of that cpuset, and with emulator cores QEMU's other threads on the cores set aside.
 * vm0 (lab-tiny, -c2): two vCPUs on two cores; vm1 (emulator-cores: 1, -c2): one vCPU, the emulator on the
 * other core. One VM per node, so that both tasks get real CPUs of this 2-core machine.
 */
describe("vCPU pinning inside the task's SLURM cpuset", () => {
  let info: LabInfo;
  let templates: string;
  let jobId: number | undefined;

  beforeAll(async () => {
    ({ info } = await e2eSetup());
    templates = `${info.user.home}/.pcocc/templates.yaml`;
    expect(existsSync(templates), `${templates} exists already: this test would replace it`).toBe(false);
    const doc = `${EMU}:\n  inherits: ${TINY}\n  emulator-cores: 1\n`;
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

  /** The hypervisor's cpuset (the task's) and QEMU's threads by name, for VM `rank`. */
  async function threadsOf(rank: number) {
    for (const node of info.nodes) {
      const vmJson = await nodeExec(node, ["cat", `${defaultVmStateDir(jobId!, rank)}/vm.json`]);
      if (vmJson.code !== 0) continue;
      const { pid, qemuPid } = JSON.parse(vmJson.stdout) as { pid: number; qemuPid: number };
      const comms = await nodeExec(node, [
        "sh",
        "-c",
        `for t in /proc/${qemuPid}/task/*; do echo "\${t##*/} $(cat $t/comm)"; done`,
      ]);
      const threads = comms.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => ({ tid: Number(l.split(" ")[0]), name: l.slice(l.indexOf(" ") + 1) }));
      return { node, task: (await affinity(node, pid))!, threads };
    }
    throw new Error(`vm${rank} not found on any node`);
  }

  it("pins each vCPU thread to one core of the task's cpuset, emulator threads to the cores set aside", async () => {
    // the binding a site configures by default; the lab's jobs ask for it (see src/lab/README.md)
    const run = spawnPcocc(
      info,
      ["alloc", "-N2", "-c2", "-E", "echo CLUSTER-UP; sleep 900", `${TINY}:1,${EMU}:1`],
      { env: { SLURM_CPU_BIND: "cores" } },
    );
    jobId = await waitUntil("the allocation", async () => jobIdFrom(run.out.stderr), 60_000);
    await waitUntil("the cluster", async () => run.out.stdout.includes("CLUSTER-UP"), 300_000);

    const vm0 = await threadsOf(0);
    expect(vm0.task).toHaveLength(2);
    const vcpus0 = vm0.threads.filter((t) => /^CPU \d+\/(TCG|KVM)$/.test(t.name));
    expect(vcpus0.map((t) => t.name).sort()).toEqual(["CPU 0/TCG", "CPU 1/TCG"]);
    const pinned0 = await Promise.all(vcpus0.map(async (t) => (await affinity(vm0.node, t.tid))!));
    for (const cpus of pinned0) {
      expect(cpus).toHaveLength(1);
      expect(vm0.task).toContain(cpus[0]);
    }
    expect(new Set(pinned0.map((c) => c[0])).size, "two vCPUs on two different cores").toBe(2);

    const vm1 = await threadsOf(1);
    expect(vm1.task).toHaveLength(2);
    const vcpus1 = vm1.threads.filter((t) => /^CPU \d+\//.test(t.name));
    expect(vcpus1).toHaveLength(1);
    const vcpuCpus = (await affinity(vm1.node, vcpus1[0]!.tid))!;
    expect(vcpuCpus).toHaveLength(1);
    expect(vm1.task).toContain(vcpuCpus[0]);
    const emulator = vm1.task.filter((c) => c !== vcpuCpus[0]);
    for (const t of vm1.threads.filter((x) => x !== vcpus1[0])) {
      const cpus = await affinity(vm1.node, t.tid);
      // a worker thread may end between the listing and the look
      if (cpus) expect(cpus, `${t.name} on the emulator core`).toEqual(emulator);
    }
  }, 600_000);
});
