import { execFile } from "node:child_process";
import { chmod, chown, lstat, mkdir, readdir, rmdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PcoccError } from "../util/index.js";

/**
 * Where the VMs of a job keep their state on a node: `<root>/job-<id>/vm<rank>`. Root makes `<root>`
 * (root-owned, 0755, on a root-owned path) and, in `setup create`, each job's directory, owned by the job's
 * user, 0700. Nobody else can create or swap a job's directory, so a VM's state cannot be taken over or
 * blocked by another user, and root's cleanup never goes through a name a user controls.
 */
export const VM_STATE_ROOT = "/run/pcocc/vm-state";

/** Removal as the user may take long for a huge tree; it is bounded so `setup delete` always ends. */
const REMOVE_TIMEOUT_MS = 300_000;
/** A user still writing into the directory while it is emptied gets this many passes, then it stays. */
const REMOVE_PASSES = 3;

export interface JobOwner {
  jobId: number;
  uid: number;
  gid: number;
}

export function jobStateDir(jobId: number | string, root = VM_STATE_ROOT): string {
  if (!/^[0-9]{1,10}$/.test(String(jobId))) throw new PcoccError(`invalid job id ${String(jobId)}`);
  return join(root, `job-${jobId}`);
}

/** The state directory of VM `rank` of job `jobId` on this node. */
export function defaultVmStateDir(jobId: number | string, rank: number, root = VM_STATE_ROOT): string {
  return join(jobStateDir(jobId, root), `vm${rank}`);
}

/**
 * Root, `setup create`: a fresh, empty directory for the job's VMs, owned by the job's user, 0700. A
 * directory left by an earlier job with the same id is emptied and removed first.
 */
export async function createJobStateDir(job: JobOwner, root = VM_STATE_ROOT): Promise<string> {
  await ensureRootDir(root);
  const dir = jobStateDir(job.jobId, root);
  await removeJobStateDir(job.jobId, root);
  await mkdir(dir, { mode: 0o700 });
  await chown(dir, job.uid, job.gid);
  return dir;
}

/**
 * Root, `setup delete`: removes the job's directory. Its content belongs to the user, who can rename and
 * replace anything in it at any moment, so it is removed by a child running with the directory owner's
 * uid/gid (no shell, no supplementary groups): whatever it is made to reach, it can only delete what the
 * user could. Root then removes the emptied directory from its root-owned parent. Returns false when there
 * was nothing to remove.
 */
export async function removeJobStateDir(jobId: number, root = VM_STATE_ROOT): Promise<boolean> {
  const dir = jobStateDir(jobId, root);
  const st = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (!st) return false;
  if (!st.isDirectory()) throw new PcoccError(`${dir} is not a directory: not removing it`);
  for (let pass = 1; ; pass++) {
    // owned by root: made by a create that stopped before chown, nothing in it is the user's
    if (st.uid !== 0) await emptyAsOwner(dir, st.uid, st.gid);
    try {
      await rmdir(dir);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOTEMPTY" || pass >= REMOVE_PASSES)
        throw new PcoccError(
          `cannot remove the VM state of job ${jobId} (${dir}): ${(err as Error).message}`,
        );
    }
  }
}

/** The job ids whose state directories exist on this node (for `setup cleanup`). */
export async function jobStateDirIds(root = VM_STATE_ROOT): Promise<number[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  return names.flatMap((n) => {
    const m = /^job-([0-9]{1,10})$/.exec(n);
    return m ? [Number(m[1])] : [];
  });
}

/**
 * Makes `dir` (and missing parents) as root and checks the whole path: every component a root-owned
 * directory that no one else can write, so no name on it can be replaced under root. `dir` and its parent
 * are pcocc's own (`/run/pcocc`, which the SPANK plugin of earlier versions made 0700): they are made
 * searchable, or the job's user could not reach their VMs' state.
 */
async function ensureRootDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (let p = dir; ; p = dirname(p)) {
    const st = await lstat(p);
    if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0)
      throw new PcoccError(
        `${p} must be a directory owned by root and writable only by it (VM state lives under ${dir})`,
      );
    const pcoccOwn = p === dir || p === dirname(dir);
    if (pcoccOwn && (st.mode & 0o111) !== 0o111) await chmod(p, (st.mode & 0o7777) | 0o111);
    if (p === dirname(p)) return;
  }
}

/** Deletes everything in `dir` as uid/gid: `chmod` first so the user's own unreadable dirs go too. */
async function emptyAsOwner(dir: string, uid: number, gid: number): Promise<void> {
  const asOwner = (argv: string[]): Promise<void> =>
    new Promise((resolve) => {
      const [cmd, ...args] = argv as [string, ...string[]];
      execFile(
        cmd,
        args,
        { uid, gid, cwd: "/", env: { PATH: "/usr/bin:/bin" }, timeout: REMOVE_TIMEOUT_MS },
        // failures show in what is left: the rmdir after this reports them
        () => resolve(),
      );
    });
  await asOwner(["chmod", "-R", "u+rwX", "--", dir]);
  // rm cannot remove `dir` itself (its parent is root's): it empties it and fails on that last step
  await asOwner(["rm", "-rf", "--one-file-system", "--", dir]);
}
