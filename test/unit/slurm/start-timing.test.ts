import { describe, expect, it } from "vitest";
import { checkRecord, VM_STATE } from "../../../src/keystore/layout.js";
import { formatStartBreakdown, startBreakdown } from "../../../src/slurm/start-timing.js";

const T0 = 1_700_000_000_000;
const timing = {
  launcher: {
    start: T0,
    step: T0 + 20,
    joined: T0 + 300,
    hosts: T0 + 400,
    described: T0 + 410,
    vms: T0 + 900,
  },
  hosts: {
    0: { start: T0 + 100, keystore: T0 + 200, network: T0 + 250 },
    1: { start: T0 + 120, keystore: T0 + 230, network: T0 + 390 },
  },
  vms: {
    0: { start: T0 + 300, spec: T0 + 400, "qemu-spawn": T0 + 450, "qmp-ready": T0 + 600, running: T0 + 610 },
    1: { start: T0 + 450, spec: T0 + 520, "qemu-spawn": T0 + 560, "qmp-ready": T0 + 850, running: T0 + 880 },
  },
  vmNodes: [0, 1],
};

describe("start-up breakdown", () => {
  it("follows the last VM to run back through its own node's setup", () => {
    const b = startBreakdown(timing);
    expect(b.origin).toBe(T0);
    expect(b.critical?.vm).toBe(1);
    expect(b.critical?.node).toBe(1);
    expect(b.critical?.path.map((s) => `${s.who}:${s.phase}:${s.at}`)).toEqual([
      "launcher:start:0",
      "node1:start:120",
      "node1:keystore:230",
      "node1:network:390",
      "vm1:start:450",
      "vm1:spec:520",
      "vm1:qemu-spawn:560",
      "vm1:qmp-ready:850",
      "vm1:running:880",
      "launcher:vms:900",
    ]);
  });

  it("prints offsets per VM and node with the critical rows marked", () => {
    const text = formatStartBreakdown(startBreakdown(timing));
    expect(text).toMatch(/^\* vm1 +450 +520 +560 +850 +880$/m);
    expect(text).toMatch(/^ {2}vm0 +300 +400 +450 +600 +610$/m);
    expect(text).toMatch(/^\* node1 +120 +230 +390$/m);
    expect(text).toMatch(/^ {2}node0 /m);
    expect(text).toContain("vm1 qmp-ready 850 (+290)");
  });

  it("keeps phases in a VM state and refuses malformed ones", () => {
    const ok = checkRecord(VM_STATE, "k", { state: "running", phases: { start: 1, running: 2 } });
    expect(ok.phases).toEqual({ start: 1, running: 2 });
    expect(() => checkRecord(VM_STATE, "k", { state: "running", phases: { "Bad Name": 1 } })).toThrow(
      /malformed VM state \(phases/,
    );
    expect(() => checkRecord(VM_STATE, "k", { state: "running", phases: { start: "x" } })).toThrow(/phases/);
  });
});
