import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { parseClusterDefinition } from "../cluster/index.js";
import { loadConfig } from "../config/index.js";
import { envValue, expandHostlist, expandTasksPerNode, uint32Env } from "../job/index.js";
import {
  JOB_SECRET_SUBKEY,
  PhaseClock,
  putLauncherTiming,
  readStartTiming,
  type JobHandle,
  type Keystore,
  type LeaseKeeper,
} from "../keystore/index.js";
import { encodeTaskEnv, withoutTaskHandover, type LaunchRequest } from "../job/index.js";
import { exitStatus, getVerbosity, PcoccError } from "../util/index.js";
import { describeStepExit, HypervisorStep, type StepExit } from "./hypervisor-step.js";
import { LauncherReporter } from "./launcher-report.js";
import { pcoccCommand } from "./pcocc-command.js";
import { processTree, signalAll } from "./process-tree.js";
import { parseImageOverrides } from "./image-override.js";
import { hostProgressLine } from "./progress.js";
import { joinAsUser, ProgressDisplay, waitForHosts, waitForVms, type WaitContext } from "./start-wait.js";
import { gatedVms, waitForReadiness } from "./readiness-gate.js";
import { formatStartBreakdown, startBreakdown } from "./start-timing.js";
import { buildRankMap } from "./tasks.js";

export type LauncherOptions = LaunchRequest;

/** Seconds to wait for each start-up phase before giving up with a diagnosis (`PCOCC_START_TIMEOUT`). */
const DEFAULT_START_TIMEOUT_S = 300;
/** Time the hypervisors get to stop their VMs and clean up before being killed. */
const STOP_GRACE_MS = 40_000;

export function startTimeoutMs(env: NodeJS.ProcessEnv): number {
  const v = env.PCOCC_START_TIMEOUT;
  if (v === undefined || v === "") return DEFAULT_START_TIMEOUT_S * 1000;
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new PcoccError(`PCOCC_START_TIMEOUT: expected seconds, got '${v}'`);
  return Number(v) * 1000;
}

/** The allocation as SLURM describes it to the launcher. */
export function allocationFromEnv(env: NodeJS.ProcessEnv) {
  const listVar = envValue(env, "SLURM_JOB_NODELIST") ? "SLURM_JOB_NODELIST" : "SLURM_NODELIST";
  const nodeList = envValue(env, listVar);
  const tasks = envValue(env, "SLURM_TASKS_PER_NODE");
  if (!envValue(env, "SLURM_JOB_ID", 16) || !nodeList || !tasks) {
    throw new PcoccError(
      "pcocc internal launcher runs inside a SLURM allocation: use pcocc alloc or pcocc batch",
    );
  }
  const nodes = expandHostlist(nodeList, { name: listVar });
  return {
    jobId: uint32Env(env, "SLURM_JOB_ID"),
    jobName: env.SLURM_JOB_NAME ?? "pcocc",
    nodes,
    tasksPerNode: expandTasksPerNode(tasks, { name: "SLURM_TASKS_PER_NODE", maxNodes: nodes.length }),
    cpusPerTask: env.SLURM_CPUS_PER_TASK ?? "1",
  };
}

/** The prompt prefix pcocc users know, set once so that a user's own PROMPT_COMMAND-free PS1 keeps working. */
export function promptCommand(jobId: number): string {
  return `if [[ "$_PCOCC_PROMPT_SET" != "yes" ]]; then PS1="(pcocc/${jobId}) $PS1"; _PCOCC_PROMPT_SET=yes; fi`;
}

export function frontEnv(base: NodeJS.ProcessEnv, jobId: number, jobName: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...withoutTaskHandover(base),
    PCOCC_ALLOCATION: "1",
    PCOCC_JOB_ID: String(jobId),
    PCOCC_JOB_NAME: jobName,
    SLURM_JOB_ID: String(jobId),
    PROMPT_COMMAND: promptCommand(jobId),
  };
  // the keystore credential is for the SPANK setup, not for everything the user runs
  delete env.PCOCC_REQUEST_CRED;
  return env;
}

/** The `srun --vm` step of one hypervisor per VM, handed the launch options through the task hand-over. */
function startHypervisors(
  o: LauncherOptions,
  cpusPerTask: string,
  resourceDefinition: string,
  imageOverrides: Map<string, string>,
): HypervisorStep {
  const stepEnv: NodeJS.ProcessEnv = {
    ...process.env,
    // salloc's -c is not inherited by srun since SLURM 22.05
    SRUN_CPUS_PER_TASK: cpusPerTask,
    ...encodeTaskEnv({
      definition: o.definition,
      userData: o.userData,
      mounts: o.mounts,
      imageOverrides: Object.fromEntries(imageOverrides),
      restartDir: o.restartDir,
    }),
  };
  return new HypervisorStep(
    ["-Q", "-X", "--kill-on-bad-exit=1", "--vm", resourceDefinition, ...pcoccCommand("internal", "run")],
    stepEnv,
  );
}

/**
 * `pcocc internal launcher`, run by salloc/sbatch: starts one hypervisor per VM with `srun --vm` (which makes
 * the SPANK plugin set every node up), waits for the hosts and the VMs with progress, then runs the user's
 * shell or script and tears the cluster down when either side ends.
 */
export async function runLauncher(o: LauncherOptions): Promise<number> {
  const reporter = new LauncherReporter(o.reportFile);
  const alloc = allocationFromEnv(process.env);
  reporter.note({ jobId: alloc.jobId });
  const timeoutMs = startTimeoutMs(process.env);
  const config = await loadConfig();
  const cluster = parseClusterDefinition(o.definition, config);
  const rankMap = buildRankMap(alloc.tasksPerNode, cluster.vms.length);
  const imageOverrides = parseImageOverrides(
    o.images,
    cluster.vms.map((v) => v.template),
  );
  const user = userInfo().username;
  const clusterDir = join(config.userDir, `job_${alloc.jobId}`);
  await rm(clusterDir, { recursive: true, force: true });
  await mkdir(clusterDir, { recursive: true, mode: 0o700 });

  const clock = new PhaseClock();
  const step = startHypervisors(o, alloc.cpusPerTask, cluster.resourceDefinition, imageOverrides);
  clock.mark("step");
  reporter.noteProcess("step", step.pid);

  const interrupts = new Interrupts();
  const progress = new ProgressDisplay();
  const ctx: WaitContext = { step, interrupted: interrupts.promise, progress, timeoutMs };
  let ks: Keystore | undefined;
  let keeper: LeaseKeeper | undefined;
  let timing: Promise<void> | undefined;
  try {
    progress.update(hostProgressLine(alloc.nodes.map((node) => ({ node }))));
    const joined = await joinAsUser(ctx, config, alloc.jobId);
    ks = joined.ks;
    const job: JobHandle = joined.job;
    keeper = job.keepAlive();
    clock.mark("joined");
    await waitForHosts(ctx, ks, alloc.jobId, alloc.nodes);
    clock.mark("hosts");
    await writeClusterKeys(job, cluster.resourceDefinition, o.definition, rankMap, alloc.nodes, o.images);
    clock.mark("described");
    await waitForVms(
      ctx,
      ks,
      user,
      alloc.jobId,
      cluster.vms.map((v) => v.name),
    );
    clock.mark("vms");
    timing = recordTiming(job, clock);
    // with -v the breakdown is the last word of the start-up; otherwise nobody waits for it
    if (getVerbosity() > 0) await timing;
    if (o.gate !== undefined) await waitForReadiness(ctx, job, gatedVms(config, cluster, o.gate));
  } catch (err) {
    progress.clear();
    const reason = err instanceof PcoccError ? err.message : String(err);
    process.stderr.write(`${reason}\n`);
    await stopCluster(step);
    interrupts.dispose();
    keeper?.close();
    await ks?.close();
    await rm(clusterDir, { recursive: true, force: true });
    if (interrupts.fired) return exitStatus(null, interrupts.fired);
    if (err instanceof PcoccError) return 255;
    throw err;
  }

  try {
    const env = frontEnv(process.env, alloc.jobId, alloc.jobName);
    return await supervise(o, step, interrupts, env, timeoutMs, (pid) => reporter.noteProcess("front", pid));
  } finally {
    interrupts.dispose();
    await timing;
    keeper?.close();
    await ks?.close();
    await rm(clusterDir, { recursive: true, force: true });
  }
}

/** Publishes the launcher's phases; with -v, reads every part's back and prints the breakdown. */
async function recordTiming(job: JobHandle, clock: PhaseClock): Promise<void> {
  try {
    await putLauncherTiming(job, clock.phases);
    if (getVerbosity() === 0) return;
    const t = await readStartTiming(job.ks, job.user, job.jobId);
    process.stderr.write(formatStartBreakdown(startBreakdown(t)));
  } catch (err) {
    // timing is for people reading it: a failed write or read must not stop the cluster
    process.stderr.write(`pcocc: start-up timing not recorded: ${(err as Error).message}\n`);
  }
}

async function writeClusterKeys(
  job: JobHandle,
  resourceDefinition: string,
  definition: string,
  rankMap: number[],
  nodes: string[],
  images: string[],
): Promise<void> {
  // one txn: readers take `definition` as "the cluster is described", and it comes with all the rest
  await job.putUserMany([
    // the cluster facts' shared secret: once per job, in the user's tree (no other user reads it)
    { key: JOB_SECRET_SUBKEY, value: randomBytes(32).toString("hex") },
    { key: "resource_definition", value: resourceDefinition },
    { key: "rank_map", value: rankMap },
    { key: "nodes", value: nodes },
    ...(images.length ? [{ key: "image_override", value: images.join("\n") }] : []),
    { key: "definition", value: definition },
  ]);
}

async function stopCluster(step: HypervisorStep): Promise<StepExit> {
  if (!step.running) return step.exited;
  if (!step.stopRequested) process.stderr.write("Terminating the cluster...\n");
  return step.stop(STOP_GRACE_MS, () => process.stderr.write("Forcibly killing hypervisor processes...\n"));
}

/** SIGINT/SIGTERM/SIGHUP to the launcher: remembered, turned into a rejection the waits race against. */
class Interrupts {
  fired?: NodeJS.Signals;
  readonly promise: Promise<never>;
  private reject!: (e: Error) => void;
  private readonly handlers = new Map<NodeJS.Signals, () => void>();

  constructor() {
    this.promise = new Promise<never>((_, reject) => (this.reject = reject));
    this.promise.catch(() => {});
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      const h = () => {
        if (this.fired) return;
        this.fired = sig;
        this.reject(new PcoccError(`Cluster launch was interrupted (${sig})`));
        this.listeners.forEach((l) => l(sig));
      };
      this.handlers.set(sig, h);
      process.on(sig, h);
    }
  }

  private readonly listeners: Array<(sig: NodeJS.Signals) => void> = [];
  onSignal(l: (sig: NodeJS.Signals) => void): void {
    this.listeners.push(l);
  }

  dispose(): void {
    for (const [sig, h] of this.handlers) process.off(sig, h);
  }
}

/**
 * Runs the front process (shell or script) and whichever ends first decides: the front process ending stops
 * the cluster; the cluster ending hangs the shell up, as in pcocc. A signal to the launcher stops both.
 */
async function supervise(
  o: LauncherOptions,
  step: HypervisorStep,
  interrupts: Interrupts,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  onFront: (pid: number | undefined) => void,
): Promise<number> {
  if (o.wait) {
    interrupts.onSignal(() => void stopCluster(step));
    const exit = await step.exited;
    process.stderr.write(`${describeStepExit(exit, step.lastLines(20))}\n`);
    return exitStatus(exit.code, exit.signal);
  }
  const front = startFront(o, env, timeoutMs);
  onFront(front.pid);
  const alongside = startHostScriptAlongside(o, env);
  const frontExit = new Promise<number>((resolve) => {
    front.on("error", (err) => {
      process.stderr.write(
        `cannot start ${o.script === undefined && o.batchScript === undefined ? "the shell" : "the script"}: ${err.message}\n`,
      );
      resolve(127);
    });
    front.on("exit", (code, signal) => resolve(exitStatus(code, signal)));
  });
  interrupts.onSignal((sig) => {
    front.kill(sig === "SIGINT" ? "SIGHUP" : sig);
    void stopCluster(step);
  });
  const first = await Promise.race([
    frontExit.then((code) => ({ kind: "front" as const, code })),
    step.exited.then((exit) => ({ kind: "step" as const, exit })),
  ]);
  if (first.kind === "front") {
    await stopTree(alongside);
    await stopCluster(step);
    return first.code;
  }
  process.stderr.write(`\n${describeStepExit(first.exit, step.lastLines(20))}\n`);
  // the whole tree: whatever the script started must not outlive the cluster either
  const tree = [front.pid, alongside?.pid].flatMap((pid) => (pid === undefined ? [] : processTree(pid)));
  signalAll(tree, o.script === undefined && o.batchScript === undefined ? "SIGHUP" : "SIGTERM");
  const kill = setTimeout(() => signalAll(tree, "SIGKILL"), 1000);
  const code = await frontExit;
  await new Promise((r) => setTimeout(r, 1000));
  clearTimeout(kill);
  signalAll(tree, "SIGKILL");
  return code === 0 ? exitStatus(first.exit.code, first.exit.signal) : code;
}

/**
 * `batch -b VM_SCRIPT -E HOST_SCRIPT`, as in pcocc: the host script runs on this node alongside the VM
 * script (the front process), which alone decides when the job ends; the host script is stopped then.
 */
function startHostScriptAlongside(o: LauncherOptions, env: NodeJS.ProcessEnv): ChildProcess | undefined {
  if (o.batchScript === undefined || o.script === undefined) return undefined;
  const child = spawn("/bin/sh", ["-c", o.script], { stdio: ["ignore", "inherit", "inherit"], env });
  child.on("error", (err) => process.stderr.write(`cannot start the host script: ${err.message}\n`));
  return child;
}

/** SIGTERM to a process and everything it started, SIGKILL to what is left a second later. */
async function stopTree(child: ChildProcess | undefined): Promise<void> {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const tree = processTree(child.pid);
  const exited = new Promise((r) => child.once("exit", r));
  signalAll(tree, "SIGTERM");
  const kill = setTimeout(() => signalAll(tree, "SIGKILL"), 1000);
  await exited;
  clearTimeout(kill);
  signalAll(tree, "SIGKILL"); // its own children that ignored SIGTERM
}

function startFront(o: LauncherOptions, env: NodeJS.ProcessEnv, timeoutMs: number): ChildProcess {
  if (o.batchScript !== undefined) {
    // the VMs run but may still be booting: the agent gets the start-up timeout to say hello
    const [cmd, ...args] = pcoccCommand(
      "exec",
      "-j",
      String(env.PCOCC_JOB_ID),
      "-i",
      "0",
      "-t",
      String(Math.ceil(timeoutMs / 1000)),
      "-s",
      o.batchScript,
    );
    return spawn(cmd!, args, { stdio: ["ignore", "inherit", "inherit"], env });
  }
  if (o.script !== undefined) return spawn("/bin/sh", ["-c", o.script], { stdio: "inherit", env });
  return spawn(env.SHELL || "/bin/bash", [], { stdio: "inherit", env });
}
