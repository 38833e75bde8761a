import { constants } from "node:fs";
import { copyFile, rename, rm, rmdir, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { PcoccError } from "../util/index.js";
import {
  commitDirectoryLayer,
  directoryStaging,
  isDirectoryImage,
  resolveDirectoryImage,
} from "./directory.js";
import { readQcow2Header, setQcow2Backing } from "./qcow2.js";
import { createQcow2, qemuImg } from "./qemu-img.js";
import { Repository, type Staging } from "./repository.js";
import {
  type ReposConfig,
  type ResolvedImage,
  asUri,
  checkOverwrite,
  findRepository,
  newMeta,
  requireVmImage,
  resolveImage,
  targetRepository,
} from "./resolve.js";
import { ensureBlobs } from "./transfer.js";
import { type ImageUri, formatImageUri } from "./uri.js";

export interface CommittedRevision {
  repo: string;
  name: string;
  revision: number;
  uri: string;
  topPath: string;
}

export interface SaveTarget {
  /** Where to write the new layer: inside the target repository, so committing it is a rename. */
  path: string;
  /**
   * The staging entry holding `path`; `addRevision` commits from it instead of making another. None for a
   * directory image (its staging is `<dir>/.tmp/save-XXXX`).
   */
  staging?: Staging;
  release(): Promise<void>;
}

/**
 * A place for `pcocc save` to write its layer (QMP backup/snapshot target). `repo gc` leaves it alone while
 * this process lives; call `release()` once `addRevision` has taken the file (or on failure).
 */
export async function prepareSaveTarget(
  config: ReposConfig,
  uri: string | ImageUri,
  opts: { dest?: string } = {},
): Promise<SaveTarget> {
  const dirImage = opts.dest ?? (typeof uri === "string" ? uri : undefined);
  if (dirImage !== undefined && isDirectoryImage(dirImage)) {
    const dir = await directoryStaging(dirImage, opts.dest !== undefined);
    const release = async () => {
      await rm(dir, { recursive: true, force: true });
      await rmdir(dirname(dir)).catch(() => undefined);
    };
    return { path: join(dir, "save.qcow2"), release };
  }
  const repo =
    opts.dest !== undefined
      ? targetRepository(config, asUri(opts.dest))
      : findRepository(config, (await resolveImage(config, uri)).repo);
  const staging = await repo.createStaging();
  return { path: staging.file("save.qcow2"), staging, release: () => staging.release() };
}

/**
 * Commits `layerPath` as a new revision (pcocc's add_revision_layer / add_revision_full). Incremental: a qcow2
 * whose backing is the current top; it becomes revision latest+1 of the same image (or revision 0 of `dest`).
 * Full: a standalone qcow2 that becomes a single-layer revision. The file is taken over (moved).
 * Order of effects: layer into `.tmp`, fixed up, moved into `data/`, then the meta file appears with link(2);
 * a crash anywhere leaves earlier revisions untouched and only garbage that `repo gc` removes.
 */
export async function addRevision(
  config: ReposConfig,
  uri: string | ImageUri,
  layerPath: string,
  opts: {
    full?: boolean;
    dest?: string;
    /** The save's own staging entry: one entry for the whole save, so its cleanup is all there is. */
    target?: SaveTarget;
    /** Checked last before the revision appears: an interrupted save commits nothing. */
    signal?: AbortSignal;
  } = {},
): Promise<CommittedRevision> {
  const full = opts.full === true;
  const dirImage = opts.dest ?? (typeof uri === "string" ? uri : undefined);
  if (dirImage !== undefined && isDirectoryImage(dirImage))
    return addDirectoryRevision(uri, layerPath, { full, dest: opts.dest, signal: opts.signal });
  let base: ResolvedImage | undefined;
  try {
    base = await resolveImage(config, uri);
  } catch (err) {
    if (!(full && opts.dest !== undefined)) throw err;
  }
  if (base) requireVmImage(base);
  const header = await readQcow2Header(layerPath).catch((err: unknown) => {
    throw new PcoccError(`Cannot read saved layer ${layerPath}: ${(err as Error).message}`);
  });
  if (!header) throw new PcoccError(`Saved layer ${layerPath} is not a qcow2 image`);
  if (full && header.backingFile) {
    throw new PcoccError(
      `A full revision must be standalone, but ${layerPath} has backing file ${header.backingFile}`,
    );
  }
  if (!full && !header.backingFile)
    throw new PcoccError(`Incremental layer ${layerPath} has no backing file`);

  let repo: Repository;
  let name: string;
  let revision: number;
  if (opts.dest !== undefined) {
    const dest = asUri(opts.dest);
    if (dest.revision !== undefined)
      throw new PcoccError(`Save destination ${opts.dest} must not name a revision`);
    repo = targetRepository(config, dest);
    await checkOverwrite(config, repo, dest.name);
    name = dest.name;
    revision = 0;
  } else {
    repo = findRepository(config, base!.repo);
    name = base!.name;
    revision = ((await repo.revisionsOf(name)).at(-1) ?? -1) + 1;
  }

  // The layer must describe only the difference to the current top; anything else is rebased safely first.
  if (!full && basename(header.backingFile!) !== basename(base!.topPath)) {
    await qemuImg(["rebase", "-q", "-F", "qcow2", "-b", base!.topPath, layerPath]);
  }
  const reuse = opts.target?.staging?.repo.path === repo.path ? opts.target.staging : undefined;
  const staging = reuse ?? (await repo.createStaging());
  const chain: string[] = [];
  try {
    chain.push(...(await stageLayer(repo, staging, layerPath, full ? undefined : base)));
    opts.signal?.throwIfAborted();
    revision = await writeNextRevision(repo, staging, name, revision, chain, base, opts.dest === undefined);
  } finally {
    if (!reuse) await staging.release();
  }
  const topPath = repo.blobPath(chain.at(-1)!);
  return {
    repo: repo.name,
    name,
    revision,
    uri: formatImageUri({ repo: repo.name, name, revision }),
    topPath,
  };
}

/**
 * pcocc's directory images: an incremental save becomes `<dir>/image-rev<N+1>` over the booted file; `-d DIR`
 * makes a new directory holding the whole disk as `DIR/image`.
 */
async function addDirectoryRevision(
  uri: string | ImageUri,
  layerPath: string,
  opts: { full: boolean; dest?: string; signal?: AbortSignal },
): Promise<CommittedRevision> {
  const header = await readQcow2Header(layerPath).catch(() => undefined);
  if (!header) throw new PcoccError(`Saved layer ${layerPath} is not a qcow2 image`);
  if (opts.dest === undefined && typeof uri !== "string")
    throw new PcoccError("no image directory to save to");
  const dir = opts.dest ?? (uri as string);
  const base = opts.dest === undefined ? await resolveDirectoryImage(dir) : undefined;
  if (!opts.full && !base) throw new PcoccError(`A new image directory ${dir} needs a full save`);
  opts.signal?.throwIfAborted();
  const { revision, path } = await commitDirectoryLayer(layerPath, { dir, base, full: opts.full });
  return { repo: "", name: dir, revision, uri: dir, topPath: path };
}

/**
 * Moves `layerPath` into `staging`, points it at `base`'s top blob (none: a full, standalone layer) and
 * commits it as a blob. Returns the new revision's chain of blobs.
 */
async function stageLayer(
  repo: Repository,
  staging: Staging,
  layerPath: string,
  base: ResolvedImage | undefined,
): Promise<string[]> {
  const chain: string[] = [];
  const layer = staging.file("layer");
  await moveInto(layerPath, layer);
  if (base) {
    await ensureBlobs(repo, staging, base);
    const top = base.meta.data_blobs.at(-1)!;
    const backing = Repository.relativeBacking(top);
    if (!(await setQcow2Backing(layer, backing)))
      await qemuImg(["rebase", "-u", "-F", "qcow2", "-b", backing, layer]);
    chain.push(...base.meta.data_blobs);
  }
  chain.push(await repo.commitBlob(layer));
  return chain;
}

/** A new layer on top of the image giving it a larger virtual size (the guest grows its filesystem itself). */
export async function resizeImage(
  config: ReposConfig,
  uri: string | ImageUri,
  size: string,
): Promise<CommittedRevision> {
  const base = await resolveImage(config, asUri(uri));
  requireVmImage(base);
  const bytes = parseSize(size);
  const current = (await readQcow2Header(base.topPath))?.virtualSize;
  if (current === undefined)
    throw new PcoccError(`Top layer ${base.topPath} is not qcow2 (corrupt repository?)`);
  if (bytes <= current) {
    throw new PcoccError(
      `New size ${bytes} bytes is not larger than the current ${current} bytes of ${base.name}; shrinking would lose data`,
    );
  }
  const repo = findRepository(config, base.repo);
  const staging = await repo.createStaging();
  const top = base.meta.data_blobs.at(-1)!;
  let revision: number;
  const chain = [...base.meta.data_blobs];
  try {
    const layer = staging.file("layer");
    await createQcow2(layer, { backing: Repository.relativeBacking(top), size: bytes });
    chain.push(await repo.commitBlob(layer));
    const latest = (await repo.revisionsOf(base.name)).at(-1) ?? base.revision;
    revision = await writeNextRevision(repo, staging, base.name, latest + 1, chain, base, true);
  } finally {
    await staging.release();
  }
  return {
    repo: repo.name,
    name: base.name,
    revision,
    uri: formatImageUri({ repo: repo.name, name: base.name, revision }),
    topPath: repo.blobPath(chain.at(-1)!),
  };
}

async function writeNextRevision(
  repo: Repository,
  staging: Staging,
  name: string,
  first: number,
  chain: string[],
  base: ResolvedImage | undefined,
  bump: boolean,
): Promise<number> {
  // another save of the same image may commit between our read of the latest revision and ours
  for (let revision = first; revision < first + 100; revision++) {
    if (await repo.tryWriteMeta(newMeta(name, revision, chain, base?.meta), staging)) return revision;
    if (!bump) break;
  }
  throw new PcoccError(`Image ${name}@${first} already exists in repo ${repo.name}`);
}

async function moveInto(src: string, dst: string): Promise<void> {
  try {
    await rename(src, dst);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") {
      throw new PcoccError(`Cannot take saved layer ${src}: ${(err as Error).message}`, { cause: err });
    }
    await copyFile(src, dst, constants.COPYFILE_FICLONE);
    await unlink(src);
  }
}

const UNITS: Record<string, number> = {
  "": 1,
  K: 2 ** 10,
  M: 2 ** 20,
  G: 2 ** 30,
  T: 2 ** 40,
  P: 2 ** 50,
  E: 2 ** 60,
};

/** qemu-img style sizes: `20G`, `512M`, `1.5T`, `1073741824` (binary units, optional `B`/`iB`). */
export function parseSize(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtTpPeE]?)(?:i?[bB])?$/.exec(text.trim());
  const bytes = m ? Number(m[1]) * UNITS[m[2]!.toUpperCase()]! : NaN;
  if (!Number.isSafeInteger(Math.ceil(bytes)) || bytes <= 0) {
    throw new PcoccError(`Invalid size '${text}' (expected e.g. 20G, 512M or a number of bytes)`);
  }
  return Math.ceil(bytes / 512) * 512;
}
