import { randomBytes } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { dirname, isAbsolute } from "node:path";
import {
  addRevision,
  createQcow2,
  isDirectoryImage,
  prepareSaveTarget,
  resolveImage,
  type CommittedRevision,
  type ReposConfig,
} from "../image/index.js";
import { PcoccError } from "../util/index.js";
import { blockJobEnded, waitBlockJob, type JobProgress } from "./block-job.js";
import { freezeGuest } from "./guest-freeze.js";
import type { VmEndpoint } from "./paths.js";
import { QmpClient } from "./qmp.js";
import { announceSave } from "./save-guard.js";

export interface SaveLayerOptions {
  /** Copy the whole chain into a standalone image instead of only the VM's own writes. */
  full?: boolean;
  /** Block node of the disk to save (the boot disk is `drive0`). */
  node?: string;
  /** Where the new layer is written; must not exist yet. */
  layerPath: string;
  onProgress?: (p: JobProgress) => void;
  /** Cancels the copy; the partial layer is removed. */
  signal?: AbortSignal;
  /** QEMU names of the block job and of its target node; fresh ones by default. */
  names?: BlockJobNames;
  /**
   * Called just before the copy starts; what it returns is called as soon as the copy has started (a
   * backup job copies the disk as it was at its start) and, should the copy not start, on the way out.
   */
  quiesce?: () => Promise<() => Promise<void>>;
}

export interface BlockJobNames {
  job: string;
  node: string;
}

function newBlockJobNames(): BlockJobNames {
  const tag = randomBytes(4).toString("hex");
  return { job: `save-job-${tag}`, node: `save-${tag}` };
}

export interface SavedLayer {
  layerPath: string;
  /** Backing file recorded in the layer (the VM's base top layer); none for a full save. */
  backing?: string;
  bytes: number;
  virtualSize: number;
}

interface NamedNode {
  "node-name": string;
  backing_file?: string;
  image: { "virtual-size": number; "backing-filename"?: string; "full-backing-filename"?: string };
}

/**
 * Copies a running VM's disk into a new qcow2 layer without pausing it: `blockdev-backup sync=top` (only
 * clusters the VM wrote since boot, i.e. its overlay) onto a layer whose backing file is the image it booted
 * from, or `sync=full` onto a standalone layer. The VM keeps its chain; nothing of the source image changes,
 * so an interrupted save leaves at most a stray file at `layerPath`.
 */
async function saveLayer(qmpSocket: string, opts: SaveLayerOptions): Promise<SavedLayer> {
  const qmp = await QmpClient.connect(qmpSocket, { timeoutMs: 10_000 });
  try {
    return await saveLayerWith(qmp, opts);
  } finally {
    qmp.close();
  }
}

/** saveLayer on a monitor connection the caller holds (QEMU serves one client per monitor socket). */
export async function saveLayerWith(qmp: QmpClient, opts: SaveLayerOptions): Promise<SavedLayer> {
  if (!isAbsolute(opts.layerPath)) throw new PcoccError(`layer path must be absolute: ${opts.layerPath}`);
  const node = opts.node ?? "drive0";
  const { job: jobId, node: target } = opts.names ?? newBlockJobNames();
  let added = false;
  let done = false;
  let resume: (() => Promise<void>) | undefined;
  try {
    const nodes = await qmp.execute<NamedNode[]>("query-named-block-nodes", { flat: true });
    const src = nodes.find((n) => n["node-name"] === node);
    if (!src) throw new PcoccError(`the VM has no disk ${node}`);
    const virtualSize = src.image["virtual-size"];
    const backing = opts.full ? undefined : (src.image["full-backing-filename"] ?? src.backing_file);
    await createQcow2(opts.layerPath, { backing, size: virtualSize, unsafe: true }).catch((err: Error) => {
      throw new PcoccError(`unable to create ${opts.layerPath}: ${err.message}`);
    });
    await qmp.execute("blockdev-add", {
      driver: "qcow2",
      "node-name": target,
      file: { driver: "file", filename: opts.layerPath },
      backing: null,
    });
    added = true;
    opts.signal?.throwIfAborted();
    const ended = blockJobEnded(qmp, jobId);
    resume = await opts.quiesce?.();
    await qmp.execute("blockdev-backup", {
      "job-id": jobId,
      device: node,
      target,
      sync: opts.full ? "full" : "top",
      "auto-dismiss": true,
    });
    await resume?.();
    await waitBlockJob(qmp, jobId, { onProgress: opts.onProgress, signal: opts.signal }, ended);
    await qmp.execute("blockdev-del", { "node-name": target });
    added = false;
    done = true;
    const bytes = (await stat(opts.layerPath)).size;
    return { layerPath: opts.layerPath, backing, bytes, virtualSize };
  } finally {
    await resume?.();
    if (added) await qmp.execute("blockdev-del", { "node-name": target }).catch(() => undefined);
    if (!done) await rm(opts.layerPath, { force: true });
  }
}

export interface SaveRevisionOptions {
  full?: boolean;
  /** `-d URI`: save as a new image instead of a new revision of the VM's image. */
  dest?: string;
  /** `-s`: freeze the guest's file systems through its agent while the copy starts; warnings go here. */
  safe?: { warn: (line: string) => void };
  onProgress?: (p: JobProgress) => void;
  signal?: AbortSignal;
  /** `-i N`: which drive (see selectDrive); 0 by default. */
  driveIndex?: number;
}

/**
 * `pcocc save` for one VM: copies its disk into the repository's staging area and commits it as a new
 * revision (or as image `dest`). The commit is the image module's atomic one, so an interrupted save never
 * touches existing revisions.
 */
export async function saveRevision(
  config: ReposConfig,
  vm: VmEndpoint,
  opts: SaveRevisionOptions = {},
): Promise<CommittedRevision> {
  const drive = await selectDrive(config, vm, opts);
  const target = await prepareSaveTarget(config, drive.uri, { dest: drive.dest });
  const names = newBlockJobNames();
  let guard: { done: () => Promise<void> } | undefined;
  try {
    // should this process die, its hypervisor ends the copy and removes the staging directory
    guard = await announceSave(vm.paths.saveGuardSocket, { ...names, staging: dirname(target.path) });
    await saveLayer(vm.paths.qmpSocket, {
      full: drive.full,
      node: drive.node,
      layerPath: target.path,
      onProgress: opts.onProgress,
      signal: opts.signal,
      names,
      quiesce: opts.safe && (() => quiesceGuest(vm, opts.safe!.warn)),
    });
    opts.signal?.throwIfAborted();
    return await addRevision(config, drive.uri, target.path, {
      full: drive.full,
      dest: drive.dest,
      target,
      signal: opts.signal,
    });
  } finally {
    await target.release();
    await guard?.done();
  }
}

const NO_TARGET = "No default target image to save VM drive. Please specify one with --dest";

/**
 * `-i N` among the VM's drives as pcocc numbers them: the boot disk (if any), then its persistent drives.
 * A persistent drive is always saved whole, to `-d` or else its `backup` image (a new revision of it, or
 * its first one).
 */
async function selectDrive(
  config: ReposConfig,
  vm: VmEndpoint,
  opts: SaveRevisionOptions,
): Promise<{ node: string; uri: string; dest?: string; full: boolean }> {
  const index = opts.driveIndex ?? 0;
  const persistent = vm.info.persistentDrives ?? [];
  const boot = vm.info.imagePath ? 1 : 0;
  if (index < boot) {
    const source = vm.info.imageUri;
    if (!source && opts.dest === undefined) throw new PcoccError(NO_TARGET);
    // Without a source image there is nothing for an incremental layer to sit on; a restored VM's own writes
    // are spread over its overlay and the checkpoint's layer. A save between a directory image and
    // anything else is whole, as in pcocc (a layer cannot back onto the other kind of store).
    const crossesKinds =
      opts.dest !== undefined && (isDirectoryImage(opts.dest) || (!!source && isDirectoryImage(source)));
    const full = opts.full === true || !source || vm.info.restored === true || crossesKinds;
    return { node: "drive0", uri: source ?? (opts.dest as string), dest: opts.dest, full };
  }
  const drive = persistent[index - boot];
  if (!drive)
    throw new PcoccError(`${vm.name} has no drive with index ${index} (${boot + persistent.length} drives)`);
  const dest = opts.dest ?? drive.backup ?? undefined;
  if (dest === undefined) throw new PcoccError(NO_TARGET);
  const exists =
    opts.dest === undefined &&
    (await resolveImage(config, dest).then(
      () => true,
      () => false,
    ));
  return { node: drive.node, uri: dest, dest: exists ? undefined : dest, full: true };
}

/** Freezes the guest for `-s`; the thaw it returns is safe to call twice. */
async function quiesceGuest(vm: VmEndpoint, warn: (line: string) => void): Promise<() => Promise<void>> {
  const guest = await freezeGuest({ vm, warn, otherwise: "saving it without freezing its file systems" });
  return () => guest.thaw();
}
