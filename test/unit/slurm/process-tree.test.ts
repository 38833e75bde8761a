import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { processTree, signalAll } from "../../../src/slurm/process-tree.js";

const alive = (pid: number) => {
  try {
    // a zombie (not yet reaped by init) counts as gone
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

describe("processTree", () => {
  it("finds a script's children and grandchildren, and signalAll ends them all", async () => {
    const sh = spawn("sh", ["-c", "sleep 60 & (sleep 61 & wait) & wait"], { stdio: "ignore" });
    let tree: number[] = [];
    for (let i = 0; i < 50 && tree.length < 4; i++) {
      await new Promise((r) => setTimeout(r, 50));
      tree = processTree(sh.pid!);
    }
    expect(tree[0]).toBe(sh.pid);
    expect(tree.length).toBe(4); // sh, sleep 60, the subshell, sleep 61
    signalAll(tree, "SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    expect(tree.filter(alive)).toEqual([]);
  });
});
