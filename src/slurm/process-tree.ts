import { readdirSync } from "node:fs";
import { parentPid } from "../util/index.js";

/** Parent pid of every process, from /proc (processes that vanish meanwhile are skipped). */
function parentMap(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = parentPid(Number(name));
    if (ppid !== undefined) parents.set(Number(name), ppid);
  }
  return parents;
}

/** `pid` and all its descendants, parents first. */
export function processTree(pid: number): number[] {
  const parents = parentMap();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** Signals each of `pids` (a tree taken beforehand: orphans are re-parented and could not be found later). */
export function signalAll(pids: number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // already gone
    }
  }
}
