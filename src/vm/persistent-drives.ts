import { constants } from "node:fs";
import { access, realpath } from "node:fs/promises";
import { expandPath } from "../config/index.js";
import { imageInfo } from "../image/index.js";
import type { DriveClaim, DriveLocks } from "../keystore/index.js";
import { PcoccError } from "../util/index.js";
import type { DiskCache, DiskModel } from "./qemu-argv.js";
import type { BlockDrive } from "./qemu-drives.js";

/** A template's `persistent-drives` entry (pcocc's keys; paths already expanded by the config layer). */
export interface PersistentDriveSetting {
  path: string;
  mmp: "yes" | "no" | "cluster";
  cache: DiskCache;
  /** Image URI `pcocc save -i` writes the drive to. */
  backup: string | null;
}

/** Claims drives in the keystore for this VM (see the keystore's claimDrives). */
export type DriveLocker = (drives: DriveClaim[]) => Promise<DriveLocks>;

export interface PreparedDrives {
  drives: Array<BlockDrive & { backup: string | null }>;
  locks?: DriveLocks;
}

/** QEMU node name of persistent drive `k` (the boot disk is drive0). */
export const persistentNode = (k: number): string => `pdrive${k}`;

/**
 * Opens nothing as root: the hypervisor runs as the job's user, so the paths are checked, resolved and
 * probed with that user's rights only. Drives with `mmp: yes|cluster` are then claimed through `locker`
 * (across nodes); QEMU's own image lock (kept on unless `mmp: cluster`) is the second guard, against
 * writers the keystore cannot name (another user's VM, a process outside pcocc).
 */
export async function preparePersistentDrives(
  settings: PersistentDriveSetting[],
  opts: { model: DiskModel; vmRank: number; locker?: DriveLocker },
): Promise<PreparedDrives> {
  const { model, locker } = opts;
  // `%{vm_rank}` gives each VM of a cluster its own drive
  const paths = await Promise.all(
    settings.map((s) => resolveDrive(expandPath(s.path, { vmRank: opts.vmRank }))),
  );
  if (new Set(paths).size < paths.length)
    throw new PcoccError(`a persistent drive is listed twice: ${settings.map((s) => s.path).join(", ")}`);
  const claims = paths
    .map((path, k): DriveClaim => ({ path, shared: settings[k]!.mmp === "cluster" }))
    .filter((_, k) => settings[k]!.mmp !== "no");
  const locks = locker && claims.length > 0 ? await locker(claims) : undefined;
  try {
    const drives = await Promise.all(
      settings.map(async (s, k) => ({
        node: persistentNode(k),
        path: paths[k]!,
        format: await driveFormat(s.path, paths[k]!),
        model,
        cache: s.cache,
        shared: s.mmp === "cluster",
        backup: s.backup,
      })),
    );
    return { drives, locks };
  } catch (err) {
    await locks?.release();
    throw err;
  }
}

async function resolveDrive(given: string): Promise<string> {
  try {
    const path = await realpath(given);
    await access(path, constants.R_OK | constants.W_OK);
    return path;
  } catch (err) {
    throw new PcoccError(`unable to access persistent drive ${given}: ${(err as Error).message}`);
  }
}

/**
 * The drive's format as qemu-img sees it. A qcow2 drive must stand alone: a raw drive whose guest wrote a
 * qcow2 header naming a backing or data file would otherwise hand the guest any file its user can read.
 */
async function driveFormat(given: string, path: string): Promise<string> {
  // -U: a drive another QEMU holds is named by the claim or by QEMU's lock, not by this probe
  const info = await imageInfo(path, undefined, { forceShare: true }).catch((err: Error) => {
    throw new PcoccError(`persistent drive ${given}: ${err.message}`);
  });
  if (info["backing-filename"] || info["format-specific"]?.data?.["data-file"])
    throw new PcoccError(`persistent drive ${given} refers to another file (backing or data file): refused`);
  return info.format;
}
