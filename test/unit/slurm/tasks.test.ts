import { describe, expect, it } from "vitest";
import { expandHostlist } from "../../../src/slurm/hostlist.js";
import { buildRankMap, parseTasksPerNode } from "../../../src/slurm/tasks.js";

describe("expandHostlist", () => {
  it("expands ranges, lists and zero padding in SLURM order", () => {
    expect(expandHostlist("node[1-3]")).toEqual(["node1", "node2", "node3"]);
    expect(expandHostlist("n[01-02,10],login")).toEqual(["n01", "n02", "n10", "login"]);
    expect(expandHostlist("node2")).toEqual(["node2"]);
    expect(expandHostlist("r[1-2]-n[1-2]")).toEqual(["r1-n1", "r1-n2", "r2-n1", "r2-n2"]);
  });
  it("rejects malformed lists", () => {
    expect(() => expandHostlist("node[1-")).toThrow(/invalid SLURM host list/);
    expect(() => expandHostlist("node[a-b]")).toThrow(/invalid SLURM host list/);
    expect(() => expandHostlist("node[3-1]")).toThrow(/invalid SLURM host list/);
    expect(() => expandHostlist("a,,b")).toThrow(/invalid SLURM host list/);
  });
});

describe("tasks per node and rank maps", () => {
  it("parses SLURM_TASKS_PER_NODE with repeats", () => {
    expect(parseTasksPerNode("2(x3),1")).toEqual([2, 2, 2, 1]);
    expect(parseTasksPerNode("4")).toEqual([4]);
    expect(parseTasksPerNode("1,3(x2)")).toEqual([1, 3, 3]);
  });
  it("rejects garbage", () => {
    expect(() => parseTasksPerNode("2(x)")).toThrow(/SLURM_TASKS_PER_NODE/);
    expect(() => parseTasksPerNode("")).toThrow(/SLURM_TASKS_PER_NODE/);
  });
  it("maps ranks to hosts in blocks", () => {
    expect(buildRankMap([2, 2, 1])).toEqual([0, 0, 1, 1, 2]);
  });
  it("refuses an allocation that does not match the VM count", () => {
    expect(() => buildRankMap([2, 1], 4)).toThrow(/3 tasks but the cluster definition has 4 VMs/);
  });
});
