import { describe, expect, it } from "vitest";
import { buildRankMap } from "../../../src/slurm/tasks.js";

describe("buildRankMap", () => {
  it("maps ranks to hosts in blocks", () => {
    expect(buildRankMap([2, 2, 1])).toEqual([0, 0, 1, 1, 2]);
  });
  it("refuses an allocation that does not match the VM count", () => {
    expect(() => buildRankMap([2, 1], 4)).toThrow(/3 tasks but the cluster definition has 4 VMs/);
  });
});
