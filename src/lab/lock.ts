import { openSync, closeSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { poll, processAlive } from "./procs.js";
import { PcoccError } from "../util/errors.js";

/**
 * One `up`/`down` at a time per lab directory (test runs, benches and users share a lab). The lock file
 * holds the owner's pid so a crashed owner does not block the next caller.
 */
export async function withLabLock<T>(
  lockFile: string,
  fn: () => Promise<T>,
  timeoutMs = 30 * 60_000,
): Promise<T> {
  const acquired = await poll(() => tryLock(lockFile), timeoutMs, 100);
  if (!acquired) throw new PcoccError(`lab: ${lockFile} is held by another pcocc-lab process`);
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lockFile);
    } catch {
      /* already removed */
    }
  }
}

function tryLock(lockFile: string): boolean {
  try {
    const fd = openSync(lockFile, "wx", 0o644);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  let owner = 0;
  try {
    owner = Number(readFileSync(lockFile, "utf8").trim());
  } catch {
    return false;
  }
  if (owner && !processAlive(owner)) {
    try {
      unlinkSync(lockFile);
    } catch {
      /* raced with another cleaner */
    }
  }
  return false;
}
