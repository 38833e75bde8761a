import type { ClusterRow } from "../slurm/index.js";

/**
 * SLURM's `[DAYS-][HOURS:]MINUTES:SECONDS` (squeue's elapsed time and time limit) in seconds; null for
 * what is not a duration (`UNLIMITED`, `NOT_SET`, `INVALID`, ...).
 */
export function slurmSeconds(text: string): number | null {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(text);
  if (!m) return null;
  const [days = 0, hours = 0, minutes = 0, seconds = 0] = m.slice(1).map((v) => Number(v ?? 0));
  return ((days * 24 + hours) * 60 + minutes) * 60 + seconds;
}

/** `pcocc ps --json`: a row with its durations as numbers of seconds instead of squeue's text. */
export function clusterRowJson(row: ClusterRow) {
  const { duration, timeLimit, ...rest } = row;
  return { ...rest, elapsedSeconds: slurmSeconds(duration), timeLimitSeconds: slurmSeconds(timeLimit) };
}
