import { constants, createReadStream, createWriteStream } from "node:fs";
import { access, copyFile, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PcoccError } from "../util/index.js";
import { readQcow2Header } from "./qcow2.js";
import { imageInfo, qemuImg } from "./qemu-img.js";
import type { Repository, Staging } from "./repository.js";
import {
  type ReposConfig,
  type ResolvedImage,
  asUri,
  checkOverwrite,
  newMeta,
  requireVmImage,
  resolveImage,
  targetRepository,
} from "./resolve.js";
import { type ImageUri, formatImageUri } from "./uri.js";

const FORMAT = /^[a-z0-9_-]+$/;
/** Disk formats pcocc recognises in a file name's suffix or a `FMT:path` prefix. */
const DISK_FORMATS = ["raw", "qcow2", "qed", "vdi", "vpc", "vmdk"];

/** A long transfer: stopped by `signal` (leaving nothing behind), reporting bytes done of the total. */
export interface TransferRun {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** qemu-img's progress fraction as bytes of a disk of `total` bytes. */
function convertRun(run: TransferRun, total: number) {
  const report = run.onProgress;
  return { signal: run.signal, onProgress: report && ((f: number) => report(f * total, total)) };
}

export interface ImportResult {
  uri: string;
  format: string;
  /** Other repositories that already hold an image of that name (they now shadow or are shadowed by it). */
  alsoIn: string[];
}

/** pcocc's `FMT:path` form, e.g. `qcow2:/path/to/disk`. */
function formatPrefix(path: string): { format: string; path: string } | undefined {
  const m = /^([a-z0-9]+):(.+)$/.exec(path);
  return m ? { format: m[1]!, path: m[2]! } : undefined;
}

function checkFormat(fmt: string | undefined): string | undefined {
  if (fmt !== undefined && !FORMAT.test(fmt)) throw new PcoccError(`Invalid image format '${fmt}'`);
  return fmt;
}

function agreeingFormat(arg: string, option: string | undefined, prefix: string): string {
  if (option !== undefined && option !== prefix)
    throw new PcoccError(`Conflicting formats for ${arg}: -t ${option} and prefix ${prefix}`);
  return prefix;
}

function noRevision(uri: ImageUri, what: string): void {
  if (uri.revision !== undefined) {
    throw new PcoccError(
      `${what} ${formatImageUri(uri)} must not name a revision (new images start at revision 0)`,
    );
  }
}

/** Any format qemu-img reads; `-t` must agree with what qemu-img detects. */
export async function importImage(
  config: ReposConfig,
  src: string,
  dst: string | ImageUri,
  opts: { format?: string } & TransferRun = {},
): Promise<ImportResult> {
  const uri = asUri(dst);
  noRevision(uri, "Import destination");
  let wanted = checkFormat(opts.format);
  let st = await stat(src).catch(() => undefined);
  const prefixed = formatPrefix(src);
  if (!st && prefixed) {
    wanted = agreeingFormat(src, wanted, prefixed.format);
    src = prefixed.path;
    st = await stat(src).catch(() => undefined);
  }
  if (!st) throw new PcoccError(`Source image ${src} does not exist`);
  if (st.isDirectory())
    throw new PcoccError(`Source image ${src} is a directory (container images are not supported)`);
  const repo = targetRepository(config, uri);
  const alsoIn = await checkOverwrite(config, repo, uri.name);
  const info = await imageInfo(src);
  const detected = info.format;
  if (wanted !== undefined && wanted !== detected) {
    throw new PcoccError(`Mismatch between specified format ${wanted} and detected image type ${detected}`);
  }
  const staging = await repo.createStaging();
  try {
    const layer = staging.file("layer");
    await qemuImg(
      ["convert", "-f", detected, "-O", "qcow2", src, layer],
      convertRun(opts, info["virtual-size"]),
    );
    opts.signal?.throwIfAborted();
    const hash = await repo.commitBlob(layer);
    await repo.writeMeta(newMeta(uri.name, 0, [hash]), staging);
  } finally {
    await staging.release();
  }
  return { uri: formatImageUri({ repo: repo.name, name: uri.name, revision: 0 }), format: detected, alsoIn };
}

/**
 * Where and how an export writes, as pcocc guesses it: `-t`, else a `FMT:` prefix (`qcow2:out.img`), else the
 * file's suffix (`out.qcow2`), else raw. A prefix contradicting `-t` is an error; a known format's prefix is
 * always read as one (write `./qcow2:x` for a file of that name).
 */
export function exportTarget(dst: string, format?: string): { path: string; format: string } {
  const wanted = checkFormat(format);
  const prefixed = formatPrefix(dst);
  if (prefixed && DISK_FORMATS.includes(prefixed.format))
    return { path: prefixed.path, format: agreeingFormat(dst, wanted, prefixed.format) };
  const suffix = extname(dst).slice(1).toLowerCase();
  return { path: dst, format: wanted ?? (DISK_FORMATS.includes(suffix) ? suffix : "raw") };
}

/** What export can check before it copies anything: the format qemu-img writes, and where it writes. */
async function checkExportTarget(dst: string, format: string): Promise<"new" | "device"> {
  if (!DISK_FORMATS.includes(format)) {
    const help = await qemuImg(["--help"]);
    const supported = /Supported formats: (.*)/.exec(help)?.[1]?.split(/\s+/) ?? [];
    if (!supported.includes(format)) throw new PcoccError(`Unsupported export format '${format}'`);
  }
  const existing = await stat(dst).catch(() => undefined);
  if (existing?.isFile() || existing?.isDirectory())
    throw new PcoccError(`Destination ${dst} already exists`);
  if (existing) return "device";
  const dir = dirname(dst);
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new PcoccError(`Destination directory ${dir} does not exist`);
  await access(dir, constants.W_OK | constants.X_OK).catch(() => {
    throw new PcoccError(`Destination directory ${dir} is not writable`);
  });
  return "new";
}

/** Flattens the layer chain into one file; written next to the destination and renamed, so never half there. */
export async function exportImage(
  config: ReposConfig,
  src: string | ImageUri,
  destination: string,
  opts: { format?: string } & TransferRun = {},
): Promise<ResolvedImage & { exported: { path: string; format: string } }> {
  const exported = exportTarget(destination, opts.format);
  const { path: dst, format } = exported;
  const image = await resolveImage(config, src);
  requireVmImage(image);
  const target = await checkExportTarget(dst, format);
  const size = (await readQcow2Header(image.topPath))?.virtualSize ?? 0;
  const run = convertRun(opts, size);
  if (target === "device") {
    await qemuImg(["convert", "-f", "qcow2", "-O", format, "-n", image.topPath, dst], run);
    return { ...image, exported };
  }
  const tmp = join(dirname(dst), `.${basename(dst)}.pcocc-export-${process.pid}`);
  try {
    await qemuImg(["convert", "-f", "qcow2", "-O", format, image.topPath, tmp], run);
    opts.signal?.throwIfAborted();
    await rename(tmp, dst);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return { ...image, exported };
}

/**
 * Copies a blob: a reflink where the file system has them (instant), else a stream that `run` can stop
 * and that reports bytes.
 */
async function copyBlob(from: string, to: string, run: TransferRun & { base: number; total: number }) {
  try {
    await copyFile(from, to, constants.COPYFILE_FICLONE_FORCE);
    return;
  } catch {
    // no reflinks here (or across these file systems): copy the bytes
  }
  let done = run.base;
  const count = new Transform({
    transform(chunk: Buffer, _enc, next) {
      done += chunk.length;
      run.onProgress?.(done, run.total);
      next(null, chunk);
    },
  });
  await pipeline(createReadStream(from), count, createWriteStream(to, { mode: 0o600 }), {
    signal: run.signal,
  });
}

/** Brings every blob of a chain into `repo` (no-op for blobs already there, e.g. same repository). */
export async function ensureBlobs(
  repo: Repository,
  staging: Staging,
  image: ResolvedImage,
  run: TransferRun = {},
): Promise<void> {
  const missing: number[] = [];
  for (const [i, hash] of image.meta.data_blobs.entries())
    if (!(await stat(repo.blobPath(hash)).catch(() => undefined))) missing.push(i);
  const sizes = await Promise.all(missing.map(async (i) => (await stat(image.layers[i]!)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  let base = 0;
  for (const [k, i] of missing.entries()) {
    const hash = image.meta.data_blobs[i]!;
    const tmp = staging.file(`copy-${hash}`);
    await copyBlob(image.layers[i]!, tmp, { ...run, base, total });
    base += sizes[k]!;
    run.signal?.throwIfAborted();
    const stored = await repo.commitBlob(tmp);
    if (stored !== hash)
      throw new PcoccError(`Layer ${image.layers[i]} does not match its hash (corrupt repository?)`);
  }
}

export async function copyImage(
  config: ReposConfig,
  src: string | ImageUri,
  dst: string | ImageUri,
  run: TransferRun = {},
): Promise<string> {
  const image = await resolveImage(config, asUri(src));
  const uri = asUri(dst);
  noRevision(uri, "Copy destination");
  const repo = targetRepository(config, uri);
  await checkOverwrite(config, repo, uri.name);
  const staging = await repo.createStaging();
  try {
    await ensureBlobs(repo, staging, image, run);
    run.signal?.throwIfAborted();
    await repo.writeMeta(newMeta(uri.name, 0, image.meta.data_blobs, image.meta), staging);
  } finally {
    await staging.release();
  }
  return formatImageUri({ repo: repo.name, name: uri.name, revision: 0 });
}
