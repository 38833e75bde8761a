import { userInfo } from "node:os";
import { PcoccError } from "../util/index.js";
import { squeueJobs } from "./commands.js";

/** `-j/--jobid`, `-J/--jobname`, `--user` as every per-cluster verb takes them. */
export interface JobTargetOptions {
  jobId?: string;
  jobName?: string;
  user?: string;
}

export interface JobTarget {
  jobId: number;
  /** Owner of the job (the keystore user whose keys describe it). */
  user: string;
}

/** The name pcocc alloc/batch jobs get unless the user chose one. */
export const DEFAULT_JOB_NAME = "pcocc";

export interface TargetDeps {
  env: NodeJS.ProcessEnv;
  currentUser: () => string;
  /** Job ids of `user`'s jobs called `name`. */
  jobIdsByName: (name: string, user: string) => Promise<string[]>;
}

const defaultDeps: TargetDeps = {
  env: process.env,
  currentUser: () => userInfo().username,
  jobIdsByName: async (name, user) => (await squeueJobs({ name, user })).map((j) => j.jobId),
};

function toJobId(value: string, from: string): number {
  if (!/^\d+$/.test(value)) throw new PcoccError(`invalid job id '${value}' (${from})`);
  return Number(value);
}

/**
 * Which job a per-cluster command acts on, in pcocc's order: `-j`, then `-J` (must name exactly one of the
 * user's jobs), then `$SLURM_JOB_ID` (inside an allocation), then the only job named `pcocc`.
 */
export async function resolveJobTarget(
  opts: JobTargetOptions,
  deps: Partial<TargetDeps> = {},
): Promise<JobTarget> {
  const d = { ...defaultDeps, ...deps };
  if (opts.user !== undefined && opts.jobId === undefined && opts.jobName === undefined) {
    throw new PcoccError("the target job must be explicitly set (-j or -J) when specifying a user");
  }
  const user = opts.user ?? d.currentUser();
  if (opts.jobId !== undefined) return { jobId: toJobId(opts.jobId, "-j"), user };
  if (opts.jobName !== undefined) {
    const ids = unique(await d.jobIdsByName(opts.jobName, user));
    if (ids.length > 1)
      throw new PcoccError(
        `Unable to find job: name '${opts.jobName}' is ambiguous (${ids.join(", ")}): choose one with -j`,
      );
    if (ids.length === 0)
      throw new PcoccError(
        `Unable to find job: no valid match for name '${opts.jobName}' among ${user}'s jobs (see pcocc ps)`,
      );
    return { jobId: toJobId(ids[0]!, "squeue"), user };
  }
  const fromEnv = d.env.SLURM_JOB_ID ?? d.env.PCOCC_JOB_ID;
  if (fromEnv) return { jobId: toJobId(fromEnv, "$SLURM_JOB_ID"), user };
  let ids: string[] = [];
  try {
    ids = unique(await d.jobIdsByName(DEFAULT_JOB_NAME, user));
  } catch {
    // as in pcocc, a failed guess is just no guess
  }
  if (ids.length === 1) return { jobId: toJobId(ids[0]!, "squeue"), user };
  if (ids.length > 1) {
    throw new PcoccError(
      `The target job was neither specified nor implied and several of your jobs are named ` +
        `${DEFAULT_JOB_NAME} (${ids.join(", ")}): choose one with -j`,
    );
  }
  throw new PcoccError(
    `The target job was neither specified nor implied and none of your jobs is named ${DEFAULT_JOB_NAME}: ` +
      "name one with -j JOBID or -J NAME (see pcocc ps), or start one with pcocc alloc",
  );
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}
