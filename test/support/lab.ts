import { labUp } from "../../src/lab/index.js";
import type { LabInfo } from "../../src/lab/index.js";

/**
 * The shared lab for integration tests. The global setup has brought it up once for the run, so this is
 * a fast idempotent check that returns the current LabInfo (also after the lab's own down test restarted
 * it). `images: true` (default) also builds and imports the lab guests, which takes minutes the first
 * time on a machine and is cached after that; tests that boot no VM pass `{ images: false }`.
 */
export function useLab(opts: { images?: boolean } = {}): Promise<LabInfo> {
  return labUp({ images: opts.images ?? true });
}
