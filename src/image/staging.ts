import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

/**
 * Work in progress lives in `.tmp/<pid>.<startMs>.<rand>.<host>/`. The name tells `repo gc` whether its owner
 * may still be running (same host and pid alive, or another host's entry younger than a day) and since when
 * blobs it may have committed exist without a meta file yet. Its writer also touches the entry every
 * HEARTBEAT_MS, so gc on another host can tell an abandoned entry (e.g. of a killed save) from a live one.
 */
export interface StagingName {
  pid: number;
  startMs: number;
  host: string;
}

const PATTERN = /^([0-9]+)\.([0-9]+)\.[0-9a-f]+\.(.+)$/;
export const FOREIGN_HOST_GRACE_MS = 24 * 3600 * 1000;
export const HEARTBEAT_MS = 60_000;
/** Ten missed heartbeats: well past clock differences between hosts and a busy writer's timer delays. */
export const STALE_HEARTBEAT_MS = 10 * HEARTBEAT_MS;

export function newStagingName(now = Date.now()): string {
  return `${process.pid}.${now}.${randomBytes(4).toString("hex")}.${hostname()}`;
}

export function parseStagingName(entry: string): StagingName | undefined {
  const m = PATTERN.exec(entry);
  if (!m) return undefined;
  return { pid: Number(m[1]), startMs: Number(m[2]), host: m[3]! };
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether a staging entry may belong to a commit still in progress. */
export function stagingLive(
  entry: StagingName | undefined,
  ctx: { now: number; host: string; alive: (pid: number) => boolean },
): boolean {
  if (!entry) return false;
  if (entry.host === ctx.host) return ctx.alive(entry.pid);
  return ctx.now - entry.startMs < FOREIGN_HOST_GRACE_MS;
}

/**
 * Whether gc may delete a staging entry: its writer is gone (same host), or stopped touching it or started
 * over a day ago (another host). Deleting a live writer's entry by mistake only makes its commit fail: the
 * entry holds its files.
 */
export function stagingAbandoned(
  entry: StagingName | undefined,
  heartbeatMs: number,
  ctx: { now: number; host: string; alive: (pid: number) => boolean },
): boolean {
  if (!entry) return true;
  if (entry.host === ctx.host) return !ctx.alive(entry.pid);
  return ctx.now - heartbeatMs > STALE_HEARTBEAT_MS || !stagingLive(entry, ctx);
}
