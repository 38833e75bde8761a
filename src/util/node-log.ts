import { constants, openSync } from "node:fs";
import { lstat, mkdir, open, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { PcoccError } from "./errors.js";

/**
 * Node-side logs an administrator can find: JSON lines (pino) in /var/log/pcocc, one line per phase.
 * `setup.log` is root's (node setup); `hypervisor-job<ID>-<host>.log` holds one job's VMs on this node. The
 * hypervisors run as the job's user, so root creates that file for them in setup create (the directory stays
 * root's: the user can write only their own job's file, never create or replace one) and takes it back in
 * setup delete, so it cannot be written once the job is over.
 */
export const NODE_LOG_DIR = "/var/log/pcocc";

export function setupLogPath(dir = NODE_LOG_DIR): string {
  return join(dir, "setup.log");
}

/** Host name in the name: nodes may share /var/log (the lab's nodes do). */
export function hypervisorLogPath(jobId: number, dir = NODE_LOG_DIR, host = hostname()): string {
  return join(dir, `hypervisor-job${jobId}-${host}.log`);
}

const NOFOLLOW_APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW;

/** Root: the log directory, made root-owned 0755 if missing; anything else there is refused. */
async function ensureLogDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const st = await lstat(dir);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0)
    throw new PcoccError(`${dir} must be a directory owned by root and writable by root only`);
}

/** Root, setup create: a fresh, empty hypervisor log of the job on this node, the user's, mode 0640. */
export async function createHypervisorLog(
  job: { jobId: number; uid: number; gid: number },
  dir = NODE_LOG_DIR,
): Promise<void> {
  await ensureLogDir(dir);
  const path = hypervisorLogPath(job.jobId, dir);
  // a file left by an earlier job of the same id: unlinked from root's directory, never opened
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
  const fh = await open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o640,
  );
  try {
    await fh.chown(job.uid, job.gid);
  } finally {
    await fh.close();
  }
}

/** Root, setup delete: the file becomes root's, so the user can no longer open it for writing. */
export async function sealHypervisorLog(jobId: number, dir = NODE_LOG_DIR): Promise<void> {
  const path = hypervisorLogPath(jobId, dir);
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ELOOP") return undefined;
      throw err;
    },
  );
  if (!fh) return;
  try {
    if (!(await fh.stat()).isFile()) return;
    await fh.chown(0, 0);
    await fh.chmod(0o640);
  } finally {
    await fh.close();
  }
}

/** A logger appending JSON lines to the open file `fd`, with `bindings` on every line. */
async function fileLogger(fd: number, bindings: Record<string, unknown>): Promise<Logger> {
  const { pino } = await import("pino");
  return pino(
    {
      base: { hostname: hostname(), pid: process.pid, ...bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd, sync: true }),
  );
}

/** Root: the node's setup log, created 0640 if missing. */
export async function setupLogger(dir = NODE_LOG_DIR): Promise<Logger> {
  await ensureLogDir(dir);
  const fd = openSync(setupLogPath(dir), NOFOLLOW_APPEND | constants.O_CREAT, 0o640);
  return fileLogger(fd, { component: "setup" });
}

/**
 * The hypervisor's side: the job's log made by setup create, opened for appending only (never created);
 * undefined where there is none (no pcocc setup on this node, or a test without root).
 */
export async function hypervisorLogger(
  jobId: number,
  bindings: Record<string, unknown>,
  dir = NODE_LOG_DIR,
): Promise<Logger | undefined> {
  let fd: number;
  try {
    fd = openSync(hypervisorLogPath(jobId, dir), NOFOLLOW_APPEND);
  } catch {
    return undefined;
  }
  return fileLogger(fd, { component: "hypervisor", jobId, ...bindings });
}
