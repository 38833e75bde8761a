import { existsSync } from "node:fs";
import type { LabPaths } from "./layout.js";
import { startDaemon, waitFor } from "./procs.js";

/** munged on the lab's own key and socket (the socket's directory must be world-searchable). */
export async function startMunged(paths: LabPaths): Promise<number> {
  const pid = startDaemon(
    [
      "munged",
      "--foreground",
      `--socket=${paths.mungeSocket}`,
      `--key-file=${paths.mungeKey}`,
      `--log-file=${paths.log}/munged.log`,
      `--pid-file=${paths.run}/munged.pid`,
      `--seed-file=${paths.mungeSeed}`,
    ],
    `${paths.log}/munged.out`,
  );
  await waitFor(
    "munged's socket",
    () => existsSync(paths.mungeSocket),
    10_000,
    `see ${paths.log}/munged.log`,
  );
  return pid;
}
