import { readFileSync } from "node:fs";

/** The fields of /proc/<pid>/stat after the command name (field 3 first), undefined once it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name may hold spaces and parentheses: fields resume after the last ')'
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** Parent pid of `pid` from /proc, undefined once it is gone. */
export function parentPid(pid: number): number | undefined {
  const f = statFields(pid);
  return f && Number(f[1]);
}

/**
 * When `pid` started (clock ticks since boot), undefined once it is gone or only a zombie: with the pid it
 * names one process, not whichever reuses the pid later.
 */
export function processStartTime(pid: number): number | undefined {
  const f = statFields(pid);
  return f && f[0] !== "Z" ? Number(f[19]) : undefined;
}
