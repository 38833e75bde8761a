import { readdirSync } from "node:fs";
import { parentPid, processStartTime } from "../util/index.js";

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

/**
 * Sends `signals` to `pids`, then SIGKILL to those still there after `graceMs`; resolves once all are gone.
 * They need not be our children: an orphan's end shows only in /proc, hence the polling.
 */
export async function endProcesses(
  pids: number[],
  signals: NodeJS.Signals[],
  graceMs: number,
): Promise<void> {
  const refs = pids.flatMap((pid) => {
    const start = processStartTime(pid);
    return start === undefined ? [] : [{ pid, start }];
  });
  const left = () => refs.filter((r) => processStartTime(r.pid) === r.start).map((r) => r.pid);
  for (const sig of signals) signalAll(left(), sig);
  const gone = (ms: number) => waitFor(() => left().length === 0, ms);
  if (await gone(graceMs)) return;
  signalAll(left(), "SIGKILL");
  await gone(5000);
}

async function waitFor(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
