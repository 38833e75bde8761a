import { stat } from "node:fs/promises";
import { userInfo } from "node:os";
import { resolve as resolvePath } from "node:path";
import { expandPath } from "../config/index.js";
import { PcoccError } from "../util/index.js";
import { isDirectoryImage, resolveDirectoryImage } from "./directory.js";
import type { ImageMeta } from "./meta.js";
import { Repository } from "./repository.js";
import { type ImageUri, formatImageUri, parseImageUri } from "./uri.js";

/** The part of the loaded configuration images need: repositories in priority order (user repos first). */
export interface ReposConfig {
  repos: ReadonlyArray<{ name: string; path: string }>;
}

export interface ResolvedImage {
  repo: string;
  repoPath: string;
  name: string;
  revision: number;
  kind: string;
  /** Layer chain as absolute paths, base first. */
  layers: string[];
  /** The layer a VM overlay is created on. */
  topPath: string;
  meta: ImageMeta;
  /** Set for pcocc's deprecated directory images: the directory (then `repo` is empty, `name` the directory). */
  directory?: string;
}

/**
 * Repository paths are templated (`%{homedir}`, `%{env:X}`...); one that cannot be expanded fails when used.
 * `repos: []` is valid (listings are empty); commands that need a repository say there is none.
 */
export function repositories(config: ReposConfig): Repository[] {
  return config.repos.map((r) => {
    try {
      return new Repository(r.name, resolvePath(expandPath(r.path)));
    } catch (err) {
      if (!(err instanceof PcoccError)) throw err;
      return new Repository(r.name, r.path, new PcoccError(`Repository '${r.name}': ${err.message}`));
    }
  });
}

function requireRepositories(config: ReposConfig): Repository[] {
  if (config.repos.length === 0) throw new PcoccError("No image repository configured (repos.yaml)");
  return repositories(config);
}

export function findRepository(config: ReposConfig, name: string): Repository {
  const repo = requireRepositories(config).find((r) => r.name === name);
  if (!repo) {
    const known = config.repos.map((r) => r.name).join(", ");
    throw new PcoccError(`Unknown repository '${name}' (configured: ${known})`);
  }
  return repo;
}

/** Where new images go when the URI names no repository: the highest-priority one, as in pcocc. */
export function targetRepository(config: ReposConfig, uri: ImageUri): Repository {
  return uri.repo === undefined ? requireRepositories(config)[0]! : findRepository(config, uri.repo);
}

export function asUri(uri: string | ImageUri): ImageUri {
  if (typeof uri !== "string") return uri;
  if (uri.includes("/")) {
    throw new PcoccError(
      `Image '${uri}' is a directory path: a directory image (deprecated in pcocc) can only be booted, saved and ` +
        "exported; import its disk into a repository with `pcocc image import FILE NAME` to use NAME here",
    );
  }
  return parseImageUri(uri);
}

/** Revision chosen in one repository, or undefined when it has none that matches. */
async function pickRevision(repo: Repository, uri: ImageUri): Promise<number | undefined> {
  if (!(await repo.exists())) return undefined;
  const revs = await repo.revisionsOf(uri.name);
  if (uri.revision !== undefined) return revs.includes(uri.revision) ? uri.revision : undefined;
  return revs.at(-1);
}

export async function locateImage(
  config: ReposConfig,
  uri: ImageUri,
): Promise<{ repo: Repository; revision: number }> {
  const candidates =
    uri.repo === undefined ? requireRepositories(config) : [findRepository(config, uri.repo)];
  for (const repo of candidates) {
    const revision = await pickRevision(repo, uri);
    if (revision !== undefined) return { repo, revision };
  }
  const what = `Image ${uri.name}${uri.revision === undefined ? "" : ` revision ${uri.revision}`}`;
  const where = uri.repo === undefined ? "in any configured repository" : `in repository ${uri.repo}`;
  throw new PcoccError(`${what} not found ${where}`);
}

/**
 * The revision a VM of `uri` boots. A directory image (a string with `/`) is resolved in its directory;
 * `template` names the template in its errors, as pcocc words them.
 */
export async function resolveImage(
  config: ReposConfig,
  uri: string | ImageUri,
  opts: { template?: string } = {},
): Promise<ResolvedImage> {
  if (typeof uri === "string" && isDirectoryImage(uri)) return resolvedDirectory(uri, opts.template);
  const parsed = asUri(uri);
  const { repo, revision } = await locateImage(config, parsed);
  const meta = await repo.readMeta(parsed.name, revision);
  const layers = meta.data_blobs.map((h) => repo.blobPath(h));
  for (const layer of layers) {
    try {
      await stat(layer);
    } catch {
      const label = formatImageUri({ repo: repo.name, name: parsed.name, revision });
      throw new PcoccError(`Image ${label} is damaged: layer ${layer} is missing`);
    }
  }
  return {
    repo: repo.name,
    repoPath: repo.path,
    name: parsed.name,
    revision,
    kind: meta.kind,
    layers,
    topPath: layers.at(-1)!,
    meta,
  };
}

async function resolvedDirectory(image: string, template?: string): Promise<ResolvedImage> {
  const d = await resolveDirectoryImage(image, template);
  const meta = { ...newMeta(d.dir, d.revision, []), timestamp: d.mtime };
  return {
    repo: "",
    repoPath: d.dir,
    name: d.dir,
    revision: d.revision,
    kind: "vm",
    layers: [d.path],
    topPath: d.path,
    meta,
    directory: d.dir,
  };
}

export function requireVmImage(image: ResolvedImage): void {
  if (image.kind !== "vm") {
    throw new PcoccError(
      `Image ${image.repo}:${image.name}@${image.revision} is a '${image.kind}' image, not a VM image`,
    );
  }
}

export function newMeta(name: string, revision: number, dataBlobs: string[], base?: ImageMeta): ImageMeta {
  return {
    name,
    revision,
    kind: base?.kind ?? "vm",
    owner: currentUser(),
    timestamp: Date.now() / 1000,
    data_blobs: dataBlobs,
    custom_meta: base?.custom_meta ?? {},
  };
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? "unknown");
  }
}

/** Refuses to reuse a name in the target repo; returns the other repos that also hold the name (for a warning). */
export async function checkOverwrite(
  config: ReposConfig,
  target: Repository,
  name: string,
): Promise<string[]> {
  if ((await target.exists()) && (await target.revisionsOf(name)).length > 0) {
    throw new PcoccError(`Image ${name} already exists in repo ${target.name}`);
  }
  const others: string[] = [];
  for (const repo of repositories(config)) {
    if (repo.name !== target.name && (await pickRevision(repo, { name })) !== undefined)
      others.push(repo.name);
  }
  return others;
}

/**
 * Every image name with the highest-priority repository holding it, for pcocc's implicit templates
 * (`addImageTemplates` in config). A broken repository is skipped
 * here (it is reported when an image in it is used) so one bad path cannot stop every command.
 */
export async function listImageNames(config: ReposConfig): Promise<Array<{ repo: string; name: string }>> {
  const seen = new Set<string>();
  const out: Array<{ repo: string; name: string }> = [];
  for (const repo of repositories(config)) {
    let revisions;
    try {
      if (!(await repo.exists())) continue;
      revisions = await repo.listRevisions();
    } catch (err) {
      if (!(err instanceof PcoccError)) throw err;
      continue;
    }
    for (const { name } of revisions.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!seen.has(name)) out.push({ repo: repo.name, name });
      seen.add(name);
    }
  }
  return out;
}
