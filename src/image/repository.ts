import { constants } from "node:fs";
import {
  access,
  chmod,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
  utimes,
} from "node:fs/promises";
import { join } from "node:path";
import { PcoccError } from "../util/index.js";
import { sha256File } from "./hash.js";
import {
  type ImageMeta,
  isBlobHash,
  metaFileName,
  parseMeta,
  parseMetaFileName,
  serializeMeta,
} from "./meta.js";
import { HEARTBEAT_MS, newStagingName } from "./staging.js";

const REPO_VERSION = 2;

/** A repository directory in pcocc's layout v2 (see the module README in index.ts). */
export class Repository {
  constructor(
    readonly name: string,
    readonly path: string,
    /** Set when the configured path could not be expanded: every use reports it. */
    private readonly broken?: PcoccError,
  ) {}

  get dataDir(): string {
    return join(this.path, "data");
  }
  get metaDir(): string {
    return join(this.path, "meta");
  }
  get tmpDir(): string {
    return join(this.path, ".tmp");
  }

  blobPath(hash: string): string {
    return join(this.dataDir, hash.slice(0, 2), hash);
  }

  /** Backing file name written into layers: valid from any `data/<xx>/` or `.tmp/<staging>/` directory. */
  static relativeBacking(hash: string): string {
    return `../../data/${hash.slice(0, 2)}/${hash}`;
  }

  /** False when the directory does not exist yet (it is created by the first write, not by reads). */
  async exists(): Promise<boolean> {
    if (this.broken) throw this.broken;
    let st;
    try {
      st = await stat(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw this.fsError("cannot access", this.path, err);
    }
    if (!st.isDirectory())
      throw new PcoccError(`Repository path ${this.path} is not a directory (repository '${this.name}')`);
    await this.checkVersion();
    return true;
  }

  async writable(): Promise<boolean> {
    try {
      await access(this.path, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  }

  private async checkVersion(): Promise<void> {
    const file = join(this.path, ".config");
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw this.fsError("cannot read", file, err);
    }
    const m = /^\s*\{?\s*["']?version["']?\s*:\s*([0-9]+)\s*\}?\s*$/.exec(text);
    if (!m) throw new PcoccError(`Bad repository config file ${file}: expected {version: ${REPO_VERSION}}`);
    const version = Number(m[1]);
    if (version === 1) {
      throw new PcoccError(
        `Repository '${this.name}' (${this.path}) uses pcocc's layout version 1, which this version cannot read`,
      );
    }
    if (version !== REPO_VERSION) {
      throw new PcoccError(`Unsupported version ${version} for repository '${this.name}' in ${file}`);
    }
  }

  /** Creates the layout on the first write; a path that exists as something else is an error, not replaced. */
  async ensure(): Promise<void> {
    await this.exists();
    await this.mkdir(this.path, true);
    for (const dir of [this.dataDir, this.metaDir, this.tmpDir]) await this.mkdir(dir);
    try {
      await writeFile(join(this.path, ".config"), `{version: ${REPO_VERSION}}\n`, { flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST")
        throw this.fsError("cannot write", this.path, err);
    }
  }

  private async mkdir(dir: string, recursive = false): Promise<void> {
    try {
      await mkdir(dir, { recursive, mode: 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") {
        if ((await stat(dir)).isDirectory()) return;
        throw new PcoccError(`Repository '${this.name}': ${dir} exists and is not a directory`);
      }
      throw this.fsError("cannot create", dir, err);
    }
  }

  fsError(what: string, path: string, err: unknown): PcoccError {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === "EACCES" || e.code === "EPERM"
        ? "permission denied"
        : e.code === "ENOSPC"
          ? "no space left on device"
          : e.message;
    return new PcoccError(`Repository '${this.name}': ${what} ${path}: ${why}`, { cause: err });
  }

  /** Every `name@rev` present, from file names only (no meta file is read). */
  async listRevisions(): Promise<Array<{ name: string; revision: number }>> {
    let files: string[];
    try {
      files = await readdir(this.metaDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw this.fsError("cannot list", this.metaDir, err);
    }
    const out: Array<{ name: string; revision: number }> = [];
    for (const f of files) {
      const parsed = parseMetaFileName(f);
      if (parsed) out.push(parsed);
    }
    return out;
  }

  async revisionsOf(name: string): Promise<number[]> {
    return (await this.listRevisions())
      .filter((r) => r.name === name)
      .map((r) => r.revision)
      .sort((a, b) => a - b);
  }

  async readMeta(name: string, revision: number): Promise<ImageMeta> {
    const file = join(this.metaDir, metaFileName(name, revision));
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw this.fsError("cannot read", file, err);
    }
    return parseMeta(text, file);
  }

  async createStaging(): Promise<Staging> {
    await this.ensure();
    const dir = join(this.tmpDir, newStagingName());
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (err) {
      throw this.fsError("cannot create", dir, err);
    }
    return new Staging(this, dir);
  }

  /**
   * Moves a finished layer from staging into `data/` under its content hash. The blob is read-only and on
   * disk before its name appears, so a crash leaves either nothing or a complete unreferenced blob for gc.
   */
  async commitBlob(file: string): Promise<string> {
    const hash = await sha256File(file);
    const target = this.blobPath(hash);
    const dir = join(this.dataDir, hash.slice(0, 2));
    await this.mkdir(dir);
    if (await pathExists(target)) {
      // refreshes ctime so a concurrent gc sees the blob as new and keeps it
      await chmod(target, 0o444).catch(() => undefined);
      return hash;
    }
    await chmod(file, 0o444);
    await fsyncPath(file);
    try {
      await rename(file, target).catch(async (err: NodeJS.ErrnoException) => {
        // a concurrent gc may have removed the (then empty) fan-out directory
        if (err.code !== "ENOENT" || !(await pathExists(file))) throw err;
        await this.mkdir(dir);
        await rename(file, target);
      });
    } catch (err) {
      throw this.fsError("cannot store layer", target, err);
    }
    await fsyncPath(dir);
    return hash;
  }

  /** Makes `meta/<name>@<rev>` appear atomically and never replaces an existing revision. */
  async writeMeta(meta: ImageMeta, staging: Staging): Promise<void> {
    if (!(await this.tryWriteMeta(meta, staging))) {
      throw new PcoccError(`Image ${meta.name}@${meta.revision} already exists in repo ${this.name}`);
    }
  }

  /** False when that revision already exists (someone else committed it first). */
  async tryWriteMeta(meta: ImageMeta, staging: Staging): Promise<boolean> {
    for (const b of meta.data_blobs) if (!isBlobHash(b)) throw new Error(`not a blob hash: ${b}`);
    const tmp = staging.file(`meta-${metaFileName(meta.name, meta.revision)}`);
    const target = join(this.metaDir, metaFileName(meta.name, meta.revision));
    const fh = await open(tmp, "w", 0o644);
    try {
      await fh.writeFile(serializeMeta(meta));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw this.fsError("cannot write", target, err);
    } finally {
      await unlink(tmp);
    }
    await fsyncPath(this.metaDir);
    return true;
  }

  async deleteMeta(name: string, revision: number): Promise<void> {
    const file = join(this.metaDir, metaFileName(name, revision));
    try {
      await unlink(file);
    } catch (err) {
      throw this.fsError("cannot delete", file, err);
    }
  }
}

export class Staging {
  /** Touches the entry while this process uses it (see staging.ts); never keeps the process alive. */
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    readonly repo: Repository,
    readonly dir: string,
  ) {
    this.heartbeat = setInterval(() => {
      const now = new Date();
      void utimes(dir, now, now).catch(() => undefined);
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  async release(): Promise<void> {
    clearInterval(this.heartbeat);
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
