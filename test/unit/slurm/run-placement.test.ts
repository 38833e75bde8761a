import { describe, expect, it } from "vitest";
import { buildRunEnv, parseCount, pinProcesses, placeProcesses } from "../../../src/slurm/run-placement.js";

describe("pcocc run: placement and environment", () => {
  it("places processes round-robin over the VMs in the order given", () => {
    expect(placeProcesses([1, 2], 2)).toEqual([1, 2]);
    expect(placeProcesses([0, 1, 2, 3], 6)).toEqual([0, 1, 2, 3, 0, 1]);
    expect(placeProcesses([3, 1], 3)).toEqual([3, 1, 3]);
    expect(placeProcesses([5], 3)).toEqual([5, 5, 5]);
    expect(() => placeProcesses([], 1)).toThrow("no VM to run in");
  });

  it("builds the environment from -e in order, copying bare names and regex matches from the caller", () => {
    const caller = { HOME: "/home/u", FOO: "from-caller", SLURM_A: "1", SLURM_B: "2", OTHER: "x" };
    expect(buildRunEnv(["FOO=bar", "A=b=c", "EMPTY="], false, caller)).toEqual([
      "FOO=bar",
      "A=b=c",
      "EMPTY=",
    ]);
    expect(buildRunEnv(["FOO", "UNSET"], false, caller)).toEqual(["FOO=from-caller"]);
    expect(buildRunEnv(["re(^SLURM_)"], false, caller)).toEqual(["SLURM_A=1", "SLURM_B=2"]);
    expect(buildRunEnv(["FOO", "FOO=later"], false, caller)).toEqual(["FOO=later"]);
    expect(buildRunEnv([], false, caller)).toEqual([]);
  });

  it("--mirror-env gives the whole caller environment, -e on top", () => {
    const caller = { A: "1", B: "2" };
    expect(buildRunEnv([], true, caller)).toEqual(["A=1", "B=2"]);
    expect(buildRunEnv(["B=3", "C=4"], true, caller)).toEqual(["A=1", "B=3", "C=4"]);
  });

  it("refuses bad -e names and regexes, and counts below 1", () => {
    expect(() => buildRunEnv(["1A=x"], false, {})).toThrow("-e 1A=x: expected VAR");
    expect(() => buildRunEnv(["=x"], false, {})).toThrow("-e =x");
    expect(() => buildRunEnv(["re([)"], false, {})).toThrow("-e re([): invalid regular expression");
    expect(parseCount("-n", undefined)).toBeUndefined();
    expect(parseCount("-n", "4")).toBe(4);
    expect(() => parseCount("-n", "0")).toThrow("-n 0: expected a whole number of at least 1");
    expect(() => parseCount("-c", "2x")).toThrow("-c 2x");
  });

  it("-c gives each process of a VM its own block of CPUs, and refuses a VM with too few", () => {
    const cpus = (rank: number) => (rank === 0 ? 4 : 2);
    expect(pinProcesses([0, 1, 0], 2, cpus)).toEqual([
      [0, 1],
      [0, 1],
      [2, 3],
    ]);
    expect(() => pinProcesses([0, 1, 1], 2, cpus)).toThrow(
      /^-c 2: vm1 has 2 vCPUs, its 2 processes need 4 \(fewer processes per VM with -n\/-w, or a smaller -c\)$/,
    );
    expect(() => pinProcesses([0], 8, cpus)).toThrow(/^-c 8: vm0 has 4 vCPUs, its 1 processes need 8 /);
  });
});
