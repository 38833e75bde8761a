import { describe, expect, it } from "vitest";
import {
  memoryFromEnv,
  parseMemorySize,
  parseScontrolMemory,
  vmMemoryMiB,
} from "../../../src/slurm/memory.js";

const SCONTROL = `JobId=12 JobName=pcocc
   NumNodes=2 NumCPUs=2 NumTasks=2 CPUs/Task=1 ReqB:S:C:T=0:0:*:*
   TRES=cpu=2,mem=512M,node=2,billing=2
   MinCPUsNode=1 MinMemoryCPU=256M MinTmpDiskNode=0
`;

describe("job memory", () => {
  it("parses sizes with units", () => {
    expect(parseMemorySize("256M")).toBe(256);
    expect(parseMemorySize("1.5G")).toBe(1536);
    expect(parseMemorySize("2048")).toBe(2048);
    expect(parseMemorySize("1T")).toBe(1048576);
    expect(() => parseMemorySize("lots")).toThrow(/invalid memory size/);
  });
  it("reads scontrol's per-CPU or per-node request", () => {
    expect(parseScontrolMemory(SCONTROL)).toEqual({ perCpu: 256 });
    expect(parseScontrolMemory("MinMemoryNode=2G MinTmpDiskNode=0")).toEqual({ perNode: 2048 });
    expect(parseScontrolMemory("MinMemoryNode=0")).toBeUndefined();
  });
  it("reads the environment when the user asked explicitly", () => {
    expect(memoryFromEnv({ SLURM_MEM_PER_CPU: "1024" })).toEqual({ perCpu: 1024 });
    expect(memoryFromEnv({ SLURM_MEM_PER_NODE: "4096" })).toEqual({ perNode: 4096 });
    expect(memoryFromEnv({})).toBeUndefined();
  });
  it("gives the guest 85 % of the task's share, even MiB", () => {
    expect(vmMemoryMiB({ perCpu: 256 }, 1, 1)).toBe(216);
    expect(vmMemoryMiB({ perCpu: 1024 }, 2, 1)).toBe(1740);
    expect(vmMemoryMiB({ perNode: 2048 }, 1, 2)).toBe(870);
  });
  it("refuses a share too small for a guest", () => {
    expect(() => vmMemoryMiB({ perCpu: 10 }, 1, 1)).toThrow(/too little for a guest/);
  });
});
