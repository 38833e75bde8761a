import { describe, expect, it } from "vitest";
import { parseCpuList, planCpuBinding } from "../../../src/vm/cpu-binding.js";

describe("planCpuBinding (pcocc's autobind rule)", () => {
  const cores = [
    [0, 4],
    [1, 5],
    [2, 6],
  ];

  it("gives each vCPU a core of its own, after the emulator cores", () => {
    expect(planCpuBinding(cores, { vcpus: 2, emulatorCores: 1, bind: true })).toEqual({
      binding: {
        vcpus: [
          [1, 5],
          [2, 6],
        ],
        emulator: [0, 4],
      },
    });
    expect(planCpuBinding(cores.slice(0, 2), { vcpus: 2, emulatorCores: 0, bind: true })).toEqual({
      binding: {
        vcpus: [
          [0, 4],
          [1, 5],
        ],
        emulator: undefined,
      },
    });
  });

  it("pins nothing when bind-vcpus is false or the task's cores do not match", () => {
    expect(planCpuBinding(cores, { vcpus: 3, emulatorCores: 0, bind: false })).toEqual({
      reason: "bind-vcpus is false",
    });
    expect(planCpuBinding(cores, { vcpus: 1, emulatorCores: 0, bind: true })).toEqual({
      reason: "the task has 3 cores for 1 vCPUs and 0 emulator cores",
    });
  });
});

describe("parseCpuList", () => {
  it("reads the kernel's CPU lists and refuses anything else", () => {
    expect(parseCpuList("0-2,5,7-8\n")).toEqual([0, 1, 2, 5, 7, 8]);
    expect(() => parseCpuList("0-x")).toThrow(/invalid CPU list/);
  });
});
