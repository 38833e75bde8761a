import { parseStagingName, stagingLive } from "./staging.js";

export interface BlobEntry {
  hash: string;
  /** Last status change: set when the blob was renamed into `data/`. */
  ctimeMs: number;
  bytes: number;
}

export interface GcPlan {
  blobs: BlobEntry[];
  staging: string[];
}

/**
 * What `repo gc` may delete. Unreferenced blobs go, except those that appeared after the oldest commit still in
 * progress started (or after gc itself started): such a blob may be about to get its meta file.
 */
export function planGc(input: {
  blobs: BlobEntry[];
  referenced: ReadonlySet<string>;
  stagingEntries: string[];
  now: number;
  host: string;
  alive: (pid: number) => boolean;
}): GcPlan {
  let keepSince = input.now;
  const staging: string[] = [];
  for (const entry of input.stagingEntries) {
    const parsed = parseStagingName(entry);
    if (stagingLive(parsed, input)) keepSince = Math.min(keepSince, parsed!.startMs);
    else staging.push(entry);
  }
  const blobs = input.blobs.filter((b) => !input.referenced.has(b.hash) && b.ctimeMs < keepSince);
  return { blobs, staging };
}
