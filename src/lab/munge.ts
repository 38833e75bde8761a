import { existsSync } from "node:fs";
import type { LabPaths } from "./layout.js";
import { processAlive, startDaemon, waitFor } from "./procs.js";
import { PcoccError } from "../util/errors.js";

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
    () => {
      if (!processAlive(pid)) throw new PcoccError(`lab: munged exited (see ${paths.log}/munged.log)`);
      return existsSync(paths.mungeSocket);
    },
    10_000,
  );
  return pid;
}
