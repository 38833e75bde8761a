import { describe, expect, it } from "vitest";
import {
  envValue,
  expandHostlist,
  expandTasksPerNode,
  MAX_NODES,
  parseUint32,
  tasksPerNodeFromEnv,
} from "../../../src/job/index.js";

describe("SLURM host lists", () => {
  it("expands ranges, zero padding, several groups and plain names in SLURM's order", () => {
    expect(expandHostlist("node[1-3,07-08],gpu1")).toEqual([
      "node1",
      "node2",
      "node3",
      "node07",
      "node08",
      "gpu1",
    ]);
    expect(expandHostlist("a[1-2]b")).toEqual(["a1b", "a2b"]);
    expect(expandHostlist("r[1-2]-n[1-2]")).toEqual(["r1-n1", "r1-n2", "r2-n1", "r2-n2"]);
    expect(expandHostlist("node2")).toEqual(["node2"]);
    // different padding makes different names
    expect(expandHostlist("n[01-02],n[1-2]")).toEqual(["n01", "n02", "n1", "n2"]);
  });

  it.each([
    ["", /invalid length/],
    ["node[1-", /unbalanced brackets/],
    ["node]1[", /unbalanced brackets/],
    ["node[[1]]", /unbalanced brackets/],
    ["a,,b", /empty item/],
    ["a,", /empty item/],
    ["node[a-b]", /invalid range 'a-b'/],
    ["node[3-1]", /invalid range '3-1'/],
    ["node[-1]", /invalid range/],
    ["node[1-99999999999]", /invalid range/],
    ["no/de", /invalid characters 'no\/de'/],
    ["node;reboot", /invalid characters/],
    ["-node1", /invalid node name '-node1'/],
    [`${"n".repeat(64)}`, /invalid node name/],
    ["n1,n1", /a node listed twice/],
    ["n[1-2],n2", /a node listed twice/],
  ])("refuses %j", (list, message) => {
    expect(() => expandHostlist(list, { name: "SLURM_JOB_NODELIST" })).toThrow(message);
    expect(() => expandHostlist(list, { name: "SLURM_JOB_NODELIST" })).toThrow(/^SLURM_JOB_NODELIST: /);
  });

  it("names the variable and bounds the expansion before doing it", () => {
    expect(() => expandHostlist("n[1-3]", { name: "SLURM_JOB_NODELIST", maxNodes: 2 })).toThrow(
      /^SLURM_JOB_NODELIST: more than 2 nodes in 'n\[1-3\]'$/,
    );
    // a product of ranges that would be 4095^2 names is refused on counting, not after building it
    const start = Date.now();
    expect(() => expandHostlist("a[1-4095]b[1-4095]")).toThrow(`more than ${MAX_NODES} nodes`);
    expect(Date.now() - start).toBeLessThan(1000);
    expect(() => expandHostlist(`n[1-${MAX_NODES}],x`)).toThrow(`more than ${MAX_NODES} nodes`);
    expect(expandHostlist(`n[1-${MAX_NODES}]`)).toHaveLength(MAX_NODES);
    expect(() => expandHostlist("n".repeat(70_000))).toThrow(/invalid length/);
  });
});

describe("tasks per node", () => {
  it("expands repeats", () => {
    expect(expandTasksPerNode("2(x3),1")).toEqual([2, 2, 2, 1]);
    expect(expandTasksPerNode("4")).toEqual([4]);
    expect(expandTasksPerNode("1,3(x2)")).toEqual([1, 3, 3]);
  });

  it.each([
    ["", /invalid entry ''/],
    ["2(x)", /invalid entry '2\(x\)'/],
    ["two", /invalid entry/],
    [" 1", /invalid entry/],
    ["1,", /invalid entry/],
    ["-1", /invalid entry/],
    ["99999", /invalid value '99999'/],
    ["1(x99999)", /invalid value '99999'/],
    ["1(x4000),1(x4000)", /more than 4096 nodes/],
  ])("refuses %j", (value, message) => {
    expect(() => expandTasksPerNode(value, { name: "SLURM_TASKS_PER_NODE" })).toThrow(message);
    expect(() => expandTasksPerNode(value, { name: "SLURM_TASKS_PER_NODE" })).toThrow(
      /^SLURM_TASKS_PER_NODE: /,
    );
  });

  it("reads the step's value before the allocation's, and bounds it by the node count", () => {
    const env = { SLURM_STEP_TASKS_PER_NODE: "3,1", SLURM_TASKS_PER_NODE: "2(x2)" };
    expect(tasksPerNodeFromEnv(env)).toEqual([3, 1]);
    expect(tasksPerNodeFromEnv({ SLURM_TASKS_PER_NODE: "2(x2)" })).toEqual([2, 2]);
    expect(tasksPerNodeFromEnv({})).toBeUndefined();
    expect(() => tasksPerNodeFromEnv(env, 1)).toThrow(/^SLURM_STEP_TASKS_PER_NODE: more than 1 nodes/);
  });
});

describe("values and numbers", () => {
  it("refuses NUL, newline and other control characters, and overlong values", () => {
    for (const v of ["1\0", "1\n2", "a\rb", "\x1b[31m", "x\x7f"])
      expect(() => envValue({ V: v }, "V")).toThrow(/^V: control character in value$/);
    expect(() => envValue({ V: "x".repeat(17) }, "V", 16)).toThrow(/^V: value too long \(17 characters/);
    expect(envValue({ V: "" }, "V")).toBeUndefined();
  });

  it("accepts unsigned 32-bit numbers only", () => {
    expect(parseUint32("N", "0")).toBe(0);
    expect(parseUint32("N", "4294967295")).toBe(2 ** 32 - 1);
    expect(parseUint32("N", "3000000000")).toBe(3_000_000_000);
    for (const v of ["4294967296", "99999999999", "-1", "+1", "01", "1e3", "0x10", " 1", "1.0", ""])
      expect(() => parseUint32("N", v)).toThrow(/^N: invalid value/);
    expect(() => parseUint32("N", "11", 10)).toThrow(/from 0 to 10/);
  });
});
