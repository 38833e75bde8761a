import { chmod, mkdir, open, readFile, readdir, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { PcoccError } from "../../util/errors.js";

export const DEFAULT_CACHE_DIR = "/var/cache/pcocc-lab/guest";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * One builder at a time per cache (the lab and a test may both ask for the images). The lock file holds
 * the builder's pid, so a lock left by a dead process is taken over instead of waited on forever.
 */
export async function withCacheLock<T>(cacheDir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(cacheDir, { recursive: true, mode: 0o755 });
  const lock = join(cacheDir, ".lock");
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    try {
      const fh = await open(lock, "wx", 0o644);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = Number((await readFile(lock, "utf8").catch(() => "")).trim());
      if (owner && !alive(owner)) await rm(lock, { force: true });
      else if (Date.now() > deadline)
        throw new PcoccError(`${lock}: another build (pid ${owner}) holds the lock`);
      else await delay(500);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

/** A fresh staging dir under the cache (same file system, so the final rename is atomic). */
export async function stagingDir(cacheDir: string, name: string): Promise<string> {
  const dir = join(cacheDir, ".tmp", `${name}-${process.pid}-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Removes staging dirs left by builders that died (called with the lock held). */
export async function sweepStaging(cacheDir: string): Promise<void> {
  const tmp = join(cacheDir, ".tmp");
  for (const entry of await readdir(tmp).catch(() => [] as string[])) {
    await rm(join(tmp, entry), { recursive: true, force: true });
  }
}

/**
 * Publishes a finished staging dir as `final`. Its top-level files are made world-readable whatever
 * the umask: VMs run as the lab's ordinary users and boot these kernels, initrds and disks directly.
 */
export async function publish(staging: string, final: string): Promise<void> {
  await chmod(staging, 0o755);
  for (const entry of await readdir(staging, { withFileTypes: true })) {
    await chmod(join(staging, entry.name), entry.isDirectory() ? 0o755 : 0o644);
  }
  await rm(final, { recursive: true, force: true });
  await rename(staging, final);
}

/**
 * Removes cached builds of older recipes (called with the lock held, after a build). VMs already running
 * keep their open files; the lab re-reads the current paths on its next `up`.
 */
export async function pruneOtherRecipes(cacheDir: string, current: readonly string[]): Promise<void> {
  const keep = new Set(current.map((dir) => basename(dir)));
  for (const entry of await readdir(cacheDir)) {
    if (/^(kernel|debootstrap|cloud|tiny|vslurm)-[0-9a-f]{16}$/.test(entry) && !keep.has(entry)) {
      await rm(join(cacheDir, entry), { recursive: true, force: true });
    }
  }
}
