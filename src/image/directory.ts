import { link, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { isAbsolute, join, resolve as resolvePath } from "node:path";
import { PcoccError } from "../util/index.js";
import { readQcow2Header } from "./qcow2.js";

/**
 * pcocc's deprecated directory images: a template `image:` naming a directory (any value with a `/`) that
 * holds `image`, then `image-rev1`, `image-rev2`, ... each a qcow2 backed by the previous one (absolute
 * path). Everything here runs as the user who owns the path (CLI, hypervisor); root never touches it.
 */
export const isDirectoryImage = (image: string): boolean => image.includes("/");

export interface DirectoryImage {
  dir: string;
  /** 0 for `image`, N for `image-revN`. */
  revision: number;
  path: string;
  mtime: number;
}

const REV = /^image-rev([1-9][0-9]*)$/;

/** The file a VM of this directory boots: the highest `image-revN`, else `image`. */
export async function resolveDirectoryImage(image: string, template?: string): Promise<DirectoryImage> {
  const dir = resolvePath(image);
  const label = template === undefined ? `image directory ${dir}` : `template '${template}' image directory`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new PcoccError(`${label} is invalid: ${(err as Error).message}`);
  }
  const revision = Math.max(-1, ...names.map((n) => Number(REV.exec(n)?.[1] ?? -1)));
  const found = revision > 0 ? `image-rev${revision}` : names.includes("image") ? "image" : undefined;
  if (found === undefined) throw new PcoccError(`${label} has no image`);
  const path = join(dir, found);
  const info = await stat(path).catch((err: Error) => {
    throw new PcoccError(`${label} is invalid: ${err.message}`);
  });
  return { dir, revision: Math.max(revision, 0), path, mtime: info.mtimeMs / 1000 };
}

/**
 * Where a save writes before its layer is named: `<dir>/.tmp/save-XXXX`, the same layout a repository's
 * staging has, so the hypervisor's save guard removes it if the save dies. `create` makes `dir` first
 * (`save -d DIR`: a new directory image).
 */
export async function directoryStaging(dir: string, create: boolean): Promise<string> {
  const root = resolvePath(dir);
  if (create) {
    await mkdir(root, { recursive: false }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST")
        throw new PcoccError(`cannot create image directory ${root}: ${err.message}`);
      throw new PcoccError(`image directory ${root} already exists`);
    });
  }
  const tmp = join(root, ".tmp");
  try {
    await mkdir(tmp, { recursive: true, mode: 0o700 });
    return await mkdtemp(join(tmp, "save-"));
  } catch (err) {
    throw new PcoccError(`cannot write in image directory ${root}: ${(err as Error).message}`);
  }
}

/**
 * Names a saved layer in its directory: `image` for a new (full) directory image, else the next
 * `image-revN` after `base` (the highest now). An incremental layer keeps its backing file: the one the VM
 * booted, by absolute path as pcocc writes it (another save may have added a revision since that boot).
 * link(2) never replaces a revision another save named first; the next free number is taken instead.
 */
export async function commitDirectoryLayer(
  layer: string,
  target: { dir: string; base?: DirectoryImage; full: boolean },
): Promise<{ revision: number; path: string }> {
  const { dir, base } = target;
  if (!target.full) {
    const backing = (await readQcow2Header(layer))?.backingFile;
    if (!backing || !isAbsolute(backing))
      throw new PcoccError(
        `Incremental layer ${layer} must have an absolute backing file (has ${backing ?? "none"})`,
      );
  }
  const first = base ? base.revision + 1 : 0;
  for (let revision = first; revision < first + 100; revision++) {
    const path = join(resolvePath(dir), revision === 0 ? "image" : `image-rev${revision}`);
    try {
      await link(layer, path);
      await rm(layer, { force: true });
      return { revision, path };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || revision === 0)
        throw new PcoccError(`cannot write ${path}: ${(err as Error).message}`);
    }
  }
  throw new PcoccError(`cannot find a free image revision in ${dir}`);
}
