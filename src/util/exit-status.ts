import { constants } from "node:os";

/**
 * A finished child's status the way a shell reports it: its exit code, or 128 + the number of the signal
 * that killed it (SIGTERM → 143, SIGINT → 130), so a caller's own exit status tells the two apart.
 */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal === null ? undefined : constants.signals[signal];
  // Node reports one of the two; a signal unknown to this platform still must not read as success
  return n === undefined ? 128 : 128 + n;
}
