import { parseStagingName, stagingAbandoned, stagingLive } from "./staging.js";

export interface BlobEntry {
  hash: string;
  /** Last status change: set when the blob was renamed into `data/`. */
  ctimeMs: number;
  bytes: number;
}

export interface StagingEntry {
  name: string;
  /** Last heartbeat of its writer: the entry's mtime. */
  mtimeMs: number;
}

export interface GcPlan {
  blobs: BlobEntry[];
  staging: string[];
}

/**
 * What `repo gc` may delete. Unreferenced blobs go, except those that appeared after the oldest commit still in
 * progress started (or after gc itself started): such a blob may be about to get its meta file. Staging entries
 * go once abandoned; an entry of another host keeps protecting blobs for a day even then.
 */
export function planGc(input: {
  blobs: BlobEntry[];
  referenced: ReadonlySet<string>;
  stagingEntries: StagingEntry[];
  now: number;
  host: string;
  alive: (pid: number) => boolean;
}): GcPlan {
  let keepSince = input.now;
  const staging: string[] = [];
  for (const entry of input.stagingEntries) {
    const parsed = parseStagingName(entry.name);
    if (stagingLive(parsed, input)) keepSince = Math.min(keepSince, parsed!.startMs);
    if (stagingAbandoned(parsed, entry.mtimeMs, input)) staging.push(entry.name);
  }
  const blobs = input.blobs.filter((b) => !input.referenced.has(b.hash) && b.ctimeMs < keepSince);
  return { blobs, staging };
}
