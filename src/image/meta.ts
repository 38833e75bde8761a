import { PcoccError } from "../util/index.js";

/** One revision of an image: `meta/<name>@<revision>` in a repository (pcocc layout v2). */
export interface ImageMeta {
  name: string;
  revision: number;
  kind: string;
  owner: string;
  /** Seconds since the epoch, as pcocc writes it. */
  timestamp: number;
  /** Layer chain, base first; the last one is the top the VM boots from. */
  data_blobs: string[];
  custom_meta: Record<string, unknown>;
}

const HASH = /^[0-9a-f]{64}$/;
const FILE_NAME = /^([a-zA-Z0-9_.-]+)@(0|[1-9][0-9]*)$/;

export function isBlobHash(value: string): boolean {
  return HASH.test(value);
}

export function metaFileName(name: string, revision: number): string {
  return `${name}@${revision}`;
}

/** Name and revision encoded in a meta file name, or undefined for anything else found in `meta/`. */
export function parseMetaFileName(file: string): { name: string; revision: number } | undefined {
  const m = FILE_NAME.exec(file);
  if (!m || m[1] === "." || m[1] === "..") return undefined;
  const revision = Number(m[2]);
  return Number.isSafeInteger(revision) ? { name: m[1]!, revision } : undefined;
}

/**
 * Meta files may be written by other pcocc versions or edited by hand: check every field we rely on and say
 * which one is wrong, so a bad file is reported instead of breaking a VM start later.
 */
export function parseMeta(text: string, file: string): ImageMeta {
  const bad = (why: string): PcoccError => new PcoccError(`Bad image metadata ${file}: ${why}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("not a JSON object");
  const o = raw as Record<string, unknown>;
  const str = (key: string): string => {
    if (typeof o[key] !== "string") throw bad(`'${key}' must be a string`);
    return o[key];
  };
  const name = str("name");
  const kind = str("kind");
  const owner = str("owner");
  if (typeof o.revision !== "number" || !Number.isSafeInteger(o.revision) || o.revision < 0) {
    throw bad("'revision' must be a non-negative integer");
  }
  if (typeof o.timestamp !== "number" || !Number.isFinite(o.timestamp))
    throw bad("'timestamp' must be a number");
  const blobs = o.data_blobs;
  if (!Array.isArray(blobs) || blobs.length === 0) throw bad("'data_blobs' must be a non-empty list");
  for (const b of blobs)
    if (typeof b !== "string" || !HASH.test(b)) throw bad(`invalid blob hash ${JSON.stringify(b)}`);
  const custom = o.custom_meta ?? {};
  if (typeof custom !== "object" || custom === null || Array.isArray(custom))
    throw bad("'custom_meta' must be a mapping");
  const expected = parseMetaFileName(file.slice(file.lastIndexOf("/") + 1));
  if (expected && (expected.name !== name || expected.revision !== o.revision)) {
    throw bad(`content says ${name}@${o.revision}`);
  }
  return {
    name,
    revision: o.revision,
    kind,
    owner,
    timestamp: o.timestamp,
    data_blobs: blobs as string[],
    custom_meta: custom as Record<string, unknown>,
  };
}

export function serializeMeta(meta: ImageMeta): string {
  return `${JSON.stringify(meta)}\n`;
}
