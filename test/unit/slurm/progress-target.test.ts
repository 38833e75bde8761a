import { describe, expect, it } from "vitest";
import { firstFailure, hostProgressLine, vmProgressLine } from "../../../src/slurm/progress.js";
import { resolveJobTarget } from "../../../src/slurm/target.js";

describe("progress lines", () => {
  const now = 100_000;
  it("names the slowest node", () => {
    expect(hostProgressLine([{ node: "node1", state: "complete" }, { node: "node2" }], now)).toBe(
      "configuring hosts 1/2 — node2: waiting for batch manager",
    );
    expect(
      hostProgressLine(
        [
          { node: "node1", state: "network-config", desc: "configuring networks", since: 90_000 },
          { node: "node2", state: "complete" },
        ],
        now,
      ),
    ).toBe("configuring hosts 1/2 — node1: configuring networks (since 10 s ago)");
    expect(hostProgressLine([{ node: "a", state: "complete" }], now)).toBe("configuring hosts 1/1");
    expect(
      hostProgressLine([{ node: "n1", state: "network-config", desc: "configuring networks" }], now),
    ).toBe("configuring hosts 0/1 — n1: configuring networks");
  });
  it("names the slowest VM with its console tail", () => {
    const line = vmProgressLine(
      [
        { name: "vm0", state: "running" },
        { name: "vm5", state: "qemu-start", since: 88_000, consoleTail: "[    1.2] Loading\r\n" },
        { name: "vm6", state: "qemu-start", since: 95_000 },
      ],
      now,
    );
    expect(line).toBe("starting VMs 1/3 — vm5: qemu started 12 s ago, console tail: [    1.2] Loading");
    expect(vmProgressLine([{ name: "vm1" }], now)).toBe(
      "starting VMs 0/1 — vm1: waiting for its hypervisor task to start",
    );
  });
  it("reports failures", () => {
    expect(firstFailure([{ node: "node2", state: "failed", desc: "failed to setup network x" }])).toBe(
      "node2: failed to setup network x",
    );
    expect(firstFailure([{ node: "n", state: "complete" }])).toBeUndefined();
  });
});

describe("resolveJobTarget", () => {
  const deps = (names: Record<string, string[]>, env: NodeJS.ProcessEnv = {}) => ({
    env,
    currentUser: () => "alice",
    jobIdsByName: async (name: string) => names[name] ?? [],
  });
  it("prefers -j, then -J, then $SLURM_JOB_ID, then the job named pcocc", async () => {
    const d = deps({ pcocc: ["7"], mine: ["9"] }, { SLURM_JOB_ID: "8" });
    expect(await resolveJobTarget({ jobId: "5", jobName: "mine" }, d)).toEqual({ jobId: 5, user: "alice" });
    expect(await resolveJobTarget({ jobName: "mine" }, d)).toEqual({ jobId: 9, user: "alice" });
    expect(await resolveJobTarget({}, d)).toEqual({ jobId: 8, user: "alice" });
    expect(await resolveJobTarget({}, deps({ pcocc: ["7"] }))).toEqual({ jobId: 7, user: "alice" });
  });
  it("reports ambiguous and unknown names", async () => {
    await expect(resolveJobTarget({ jobName: "x" }, deps({ x: ["1", "2"] }))).rejects.toThrow(
      "Unable to find job: name 'x' is ambiguous (1, 2): choose one with -j",
    );
    await expect(resolveJobTarget({ jobName: "x" }, deps({}))).rejects.toThrow(
      "Unable to find job: no valid match for name 'x' among alice's jobs (see pcocc ps)",
    );
    await expect(resolveJobTarget({}, deps({}))).rejects.toThrow(
      "The target job was neither specified nor implied and none of your jobs is named pcocc: " +
        "name one with -j JOBID or -J NAME (see pcocc ps), or start one with pcocc alloc",
    );
    await expect(resolveJobTarget({}, deps({ pcocc: ["1", "2"] }))).rejects.toThrow(/choose one with -j/);
  });
  it("requires an explicit job with --user", async () => {
    await expect(resolveJobTarget({ user: "bob" }, deps({}))).rejects.toThrow(/explicitly set/);
    expect(await resolveJobTarget({ user: "bob", jobId: "3" }, deps({}))).toEqual({ jobId: 3, user: "bob" });
  });
});
