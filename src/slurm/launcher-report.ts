import { renameSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import {
  decodeLauncherReport,
  encodeLauncherReport,
  type LauncherReport,
  type ProcessRef,
} from "../job/index.js";
import { PcoccError, processStartTime } from "../util/index.js";
import { endProcesses, processTree } from "./process-tree.js";

/** Time the user's script gets to end on SIGHUP/SIGTERM before SIGKILL. */
const FRONT_GRACE_MS = 2000;
/** Time SLURM gets to end the released job's step (its KillWait) before its srun is killed. */
const STEP_GRACE_MS = 60_000;

function refOf(pid: number | undefined): ProcessRef | undefined {
  const start = pid === undefined ? undefined : processStartTime(pid);
  return pid === undefined || start === undefined ? undefined : { pid, start };
}

/** The same process as when it was reported (not one that reused its pid). */
function stillThere(ref: ProcessRef | undefined): ref is ProcessRef {
  return ref !== undefined && processStartTime(ref.pid) === ref.start;
}

/**
 * The launcher's side of its report to `pcocc alloc`: rewritten whole (and renamed into place, so the front
 * never reads half of it) as the launcher starts its processes, and with the exit status as it exits.
 */
export class LauncherReporter {
  private readonly report: LauncherReport;

  constructor(private readonly file: string | undefined) {
    this.report = { launcher: refOf(process.pid)! };
    if (file === undefined) return;
    this.write();
    process.once("exit", (code) => this.note({ status: code & 0xff }));
  }

  note(patch: Partial<LauncherReport>): void {
    Object.assign(this.report, patch);
    this.write();
  }

  noteProcess(which: "front" | "step", pid: number | undefined): void {
    const ref = refOf(pid);
    if (ref) this.note({ [which]: ref });
  }

  private write(): void {
    if (this.file === undefined) return;
    try {
      writeFileSync(`${this.file}.new`, encodeLauncherReport(this.report), { mode: 0o600 });
      renameSync(`${this.file}.new`, this.file);
    } catch {
      // the front then finds no status and ends what it can: a lost report must not stop the cluster
    }
  }
}

/**
 * What `pcocc alloc` makes of salloc's status and the launcher's report: the launcher's own status; if it
 * never ran, salloc's (which said why); if it died without a status, its script and step are ended here and
 * that is an error.
 */
export async function launcherOutcome(file: string, sallocCode: number): Promise<number> {
  const content = await readFile(file, "utf8").catch(() => undefined);
  if (content === undefined) {
    if (sallocCode !== 0) return sallocCode;
    throw new PcoccError(`the launcher ended without reporting anything (salloc exit status ${sallocCode})`);
  }
  const report = decodeLauncherReport(content, file);
  if (report.status !== undefined) return report.status;
  await endLeftovers(report);
  throw new PcoccError(
    `the launcher of job ${report.jobId ?? "?"} was killed before the cluster ended: ` +
      `its script and hypervisors are ended`,
  );
}

async function endLeftovers(r: LauncherReport): Promise<void> {
  // the user's shell or script (SIGHUP ends a shell, SIGTERM a script), with whatever it started
  const front = stillThere(r.front) ? processTree(r.front.pid) : [];
  await endProcesses(front, ["SIGHUP", "SIGTERM"], FRONT_GRACE_MS);
  // salloc has released the allocation, so SLURM ends the step and srun exits once its tasks are gone
  if (stillThere(r.step)) await endProcesses([r.step.pid], [], STEP_GRACE_MS);
}
