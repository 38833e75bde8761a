import { hostname } from "node:os";
import { lstat, readdir, rm, rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { PcoccError } from "../util/index.js";
import { type BlobEntry, planGc, type StagingEntry } from "./gc.js";
import { isBlobHash } from "./meta.js";
import { readQcow2Header } from "./qcow2.js";
import type { Repository } from "./repository.js";
import { type ReposConfig, asUri, findRepository, locateImage, repositories } from "./resolve.js";
import { processAlive } from "./staging.js";
import type { ImageUri } from "./uri.js";

export interface ImageRevisionInfo {
  revision: number;
  owner: string;
  timestamp: number;
  layers: number;
  /** Bytes of the revision's own (top) layer on disk. */
  size: number;
  /** Bytes of the disk the VM sees; null when the top layer is missing or not qcow2. */
  virtualSize: number | null;
}

export interface ImageInfo {
  repo: string;
  name: string;
  kind: string;
  /** Latest revision first in `revisions`. */
  revision: number;
  owner: string;
  timestamp: number;
  layers: number;
  size: number;
  virtualSize: number | null;
  revisions: ImageRevisionInfo[];
}

/** Deletes one revision (`@REV`) or all of them; layers stay until `repo gc`. Returns the revisions removed. */
export async function deleteImage(
  config: ReposConfig,
  uri: string | ImageUri,
): Promise<{ repo: string; revisions: number[] }> {
  const parsed = asUri(uri);
  const { repo, revision } = await locateImage(config, parsed);
  const revisions = parsed.revision !== undefined ? [revision] : await repo.revisionsOf(parsed.name);
  for (const rev of revisions) await repo.deleteMeta(parsed.name, rev);
  return { repo: repo.name, revisions };
}

async function describe(repo: Repository, name: string, revs: number[]): Promise<ImageInfo> {
  const revisions: ImageRevisionInfo[] = [];
  let kind = "vm";
  for (const revision of [...revs].sort((a, b) => b - a)) {
    const meta = await repo.readMeta(name, revision);
    if (revisions.length === 0) kind = meta.kind;
    const topPath = repo.blobPath(meta.data_blobs.at(-1)!);
    const top = await lstat(topPath).catch(() => undefined);
    const header = top ? await readQcow2Header(topPath).catch(() => undefined) : undefined;
    revisions.push({
      revision,
      owner: meta.owner,
      timestamp: meta.timestamp,
      layers: meta.data_blobs.length,
      size: top ? top.blocks * 512 : 0,
      virtualSize: header?.virtualSize ?? null,
    });
  }
  const latest = revisions[0]!;
  return { repo: repo.name, name, kind, ...latest, revisions };
}

/** Images whose name matches `pattern` (a regular expression searched in the name), per repository in priority order. */
export async function listImages(
  config: ReposConfig,
  opts: { pattern?: string; repo?: string } = {},
): Promise<Array<{ repo: string; path: string; images: ImageInfo[] }>> {
  let re: RegExp | undefined;
  if (opts.pattern !== undefined) {
    try {
      re = new RegExp(opts.pattern);
    } catch (err) {
      throw new PcoccError(`Invalid regular expression '${opts.pattern}': ${(err as Error).message}`);
    }
  }
  const repos = opts.repo !== undefined ? [findRepository(config, opts.repo)] : repositories(config);
  const out: Array<{ repo: string; path: string; images: ImageInfo[] }> = [];
  for (const repo of repos) {
    const byName = new Map<string, number[]>();
    if (await repo.exists()) {
      for (const r of await repo.listRevisions()) {
        if (re && !re.test(r.name)) continue;
        byName.set(r.name, [...(byName.get(r.name) ?? []), r.revision]);
      }
    }
    const images: ImageInfo[] = [];
    for (const name of [...byName.keys()].sort()) images.push(await describe(repo, name, byName.get(name)!));
    out.push({ repo: repo.name, path: repo.path, images });
  }
  return out;
}

/** One image with all its revisions; `@REV` selects which revision the summary describes. */
export async function showImage(
  config: ReposConfig,
  uri: string | ImageUri,
): Promise<ImageInfo & { uri: string }> {
  const parsed = asUri(uri);
  const { repo, revision } = await locateImage(config, parsed);
  const info = await describe(repo, parsed.name, await repo.revisionsOf(parsed.name));
  const selected = info.revisions.find((r) => r.revision === revision)!;
  return { ...info, ...selected, uri: `${repo.name}:${parsed.name}@${revision}` };
}

export async function repoList(
  config: ReposConfig,
): Promise<Array<{ name: string; path: string; writable: boolean | null }>> {
  const out: Array<{ name: string; path: string; writable: boolean | null }> = [];
  for (const repo of repositories(config)) {
    const present = await repo.exists().catch(() => false);
    out.push({ name: repo.name, path: repo.path, writable: present ? await repo.writable() : null });
  }
  return out;
}

export interface GcResult {
  repo: string;
  blobsDeleted: number;
  stagingDeleted: number;
  freedBytes: number;
}

/**
 * Deletes blobs no revision references and leftovers of interrupted commits. Every meta file must parse:
 * one that does not might reference blobs, so gc refuses rather than guess.
 */
export async function repoGc(config: ReposConfig, repoName: string): Promise<GcResult> {
  const repo = findRepository(config, repoName);
  const result: GcResult = { repo: repo.name, blobsDeleted: 0, stagingDeleted: 0, freedBytes: 0 };
  if (!(await repo.exists())) return result;
  const now = Date.now();
  const stagingEntries: StagingEntry[] = [];
  for (const name of await readdir(repo.tmpDir).catch(() => [] as string[])) {
    const st = await lstat(join(repo.tmpDir, name)).catch(() => undefined);
    if (st) stagingEntries.push({ name, mtimeMs: st.mtimeMs });
  }
  const referenced = new Set<string>();
  for (const r of await repo.listRevisions()) {
    for (const h of (await repo.readMeta(r.name, r.revision)).data_blobs) referenced.add(h);
  }
  const blobs: BlobEntry[] = [];
  for (const prefix of await readdir(repo.dataDir).catch(() => [] as string[])) {
    for (const hash of await readdir(join(repo.dataDir, prefix)).catch(() => [] as string[])) {
      if (!isBlobHash(hash) || hash.slice(0, 2) !== prefix) continue;
      const st = await lstat(join(repo.dataDir, prefix, hash));
      blobs.push({ hash, ctimeMs: st.ctimeMs, bytes: st.blocks * 512 });
    }
  }
  const plan = planGc({ blobs, referenced, stagingEntries, now, host: hostname(), alive: processAlive });
  for (const blob of plan.blobs) {
    const path = repo.blobPath(blob.hash);
    // re-checked just before unlinking: a commit may have reused this blob meanwhile
    const st = await lstat(path).catch(() => undefined);
    if (!st || st.ctimeMs !== blob.ctimeMs) continue;
    try {
      await unlink(path);
    } catch (err) {
      throw repo.fsError("cannot delete", path, err);
    }
    result.blobsDeleted++;
    result.freedBytes += blob.bytes;
  }
  for (const blob of plan.blobs) {
    // empty fan-out directories go too (rmdir fails harmlessly on those still in use)
    await rmdir(join(repo.dataDir, blob.hash.slice(0, 2))).catch(() => undefined);
  }
  for (const entry of plan.staging) {
    const path = join(repo.tmpDir, entry);
    result.freedBytes += await diskUsage(path);
    await rm(path, { recursive: true, force: true });
    result.stagingDeleted++;
  }
  return result;
}

async function diskUsage(path: string): Promise<number> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return 0;
  let total = st.isDirectory() ? 0 : st.blocks * 512;
  if (st.isDirectory()) {
    for (const e of await readdir(path).catch(() => [] as string[])) total += await diskUsage(join(path, e));
  }
  return total;
}
