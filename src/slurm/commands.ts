import { execFile } from "node:child_process";
import { exitStatus, PcoccError } from "../util/index.js";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a SLURM client command and returns its output, whatever its exit status. */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals }) | null;
        if (e && typeof e.code === "string") {
          reject(
            new PcoccError(`cannot run ${cmd}: ${e.code === "ENOENT" ? "command not found" : e.message}`),
          );
          return;
        }
        // a command killed (by the timeout or anyone) has no code but its signal
        const status = e ? exitStatus(typeof e.code === "number" ? e.code : null, e.signal ?? null) : 0;
        resolve({ code: status, stdout, stderr });
      },
    );
  });
}

/** Like runCommand, but a non-zero exit is an error carrying the command's own message. */
async function runChecked(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await runCommand(cmd, args, { env });
  if (r.code !== 0) {
    const msg = r.stderr.trim().split("\n").pop() || `exit status ${r.code}`;
    throw new PcoccError(`${cmd} ${args.join(" ")} failed: ${msg}`);
  }
  return r.stdout;
}

export interface SqueueJob {
  jobId: string;
  user: string;
  elapsed: string;
  timeLimit: string;
  partition: string;
  nodes: string;
  state: string;
  name: string;
  nodeList: string;
}

const SQUEUE_FORMAT = "%A|%u|%M|%l|%P|%D|%t|%j|%N";

/** Jobs from squeue (`-u USER` or all users), one record each. */
export async function squeueJobs(opts: {
  user?: string;
  jobId?: string;
  name?: string;
}): Promise<SqueueJob[]> {
  const args = ["-h", "-o", SQUEUE_FORMAT];
  if (opts.user) args.push("-u", opts.user);
  if (opts.jobId) args.push("-j", opts.jobId);
  if (opts.name) args.push("-n", opts.name);
  const r = await runCommand("squeue", args);
  if (r.code !== 0) {
    // squeue exits 1 for a job id it no longer knows
    if (opts.jobId && /Invalid job id/i.test(r.stderr)) return [];
    throw new PcoccError(`squeue failed: ${r.stderr.trim() || `exit status ${r.code}`}`);
  }
  return parseSqueue(r.stdout);
}

/**
 * Ids of every job SLURM still knows, any user: root's cleanup keeps their objects. Only the id column is
 * asked for, so no user-chosen text (a job name with a newline) can add a line.
 */
export async function liveJobIds(): Promise<number[]> {
  const out = await runChecked("squeue", ["-h", "-o", "%A"]);
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^[0-9]+$/.test(l))
    .map(Number);
}

function parseSqueue(text: string): SqueueJob[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((line) => {
      const f = line.split("|");
      // the job name is the only free-text field; it may itself contain '|'
      const [jobId, user, elapsed, timeLimit, partition, nodes, state] = f;
      const nodeList = f[f.length - 1]!;
      const name = f.slice(7, f.length - 1).join("|");
      return {
        jobId: jobId!,
        user: user!,
        elapsed: elapsed!,
        timeLimit: timeLimit!,
        partition: partition!,
        nodes: nodes!,
        state: state!,
        name,
        nodeList,
      };
    });
}

/** `scontrol show job <id>` as text (memory, node list). */
export function scontrolShowJob(jobId: string): Promise<string> {
  return runChecked("scontrol", ["show", "job", jobId]);
}

/** Address by which the login node reaches a compute node (slurm.conf NodeAddr). */
export async function nodeAddress(node: string): Promise<string> {
  const text = await runChecked("scontrol", ["show", "node", node]);
  return /\bNodeAddr=(\S+)/.exec(text)?.[1] ?? node;
}
