import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseClusterDefinition } from "../cluster/index.js";
import { launchBlockers, loadConfig, type PcoccConfig } from "../config/index.js";
import { encodeLaunchRequest, LAUNCHER_VERB, type LaunchRequest } from "../job/index.js";
import { ensureUserPassword } from "../keystore/index.js";
import { ConfigError, exitStatus, PcoccError } from "../util/index.js";
import {
  ALLOC_OPTIONS,
  launchOptions,
  parseMountSpec,
  splitBatchArgs,
  type ClusterLaunchOptions,
} from "./batch-args.js";
import { parseImageOverrides } from "./image-override.js";
import { launcherOutcome } from "./launcher-report.js";
import { checkGate, checkLaunchFiles, checkTemplates } from "./preflight.js";
import { checkRestartDir } from "./restart.js";
import { pcoccCommand } from "./pcocc-command.js";
import { DEFAULT_JOB_NAME } from "./target.js";

/** The launcher's command line for the user's launch options. */
export function launcherCommand(r: LaunchRequest): string[] {
  return pcoccCommand(...LAUNCHER_VERB, ...encodeLaunchRequest(r));
}

/** The launch options of the command line that the launcher acts on. */
export function launchRequest(definition: string, o: ClusterLaunchOptions): LaunchRequest {
  const { script, userData, mounts, images, restartDir, gate } = o;
  return { definition, script, userData, mounts, images, restartDir, gate };
}

/** salloc/sbatch arguments: site defaults first so the user's own options override them, then one task per VM. */
export function batchManagerArgs(config: PcoccConfig, userArgs: string[], vmCount: number): string[] {
  const site = config.batch.settings["batch-args"] ?? [];
  return [...site, ...userArgs, "-n", String(vmCount)];
}

export function batchManagerEnv(password: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, SLURM_DISTRIBUTION: "block:block", PCOCC_REQUEST_CRED: password };
}

/** Frontend checks shared by alloc and batch: everything a user can get wrong fails here, before SLURM. */
export async function prepareLaunch(definition: string, o: ClusterLaunchOptions) {
  const config = await loadConfig();
  const cluster = parseClusterDefinition(definition, config);
  const mounts = o.mounts.map(parseMountSpec);
  const overrides = parseImageOverrides(
    o.images,
    cluster.vms.map((v) => v.template),
  );
  // network types or a batch type this installation cannot run: refused here rather than at node setup
  const blockers = launchBlockers(
    config,
    cluster.vms.map((v) => v.template),
  );
  if (blockers.length) throw new ConfigError(blockers);
  if (o.gate !== undefined) checkGate(cluster, o.gate);
  await checkLaunchFiles(o, mounts);
  await checkTemplates(config, cluster, o, overrides, mounts);
  if (o.restartDir !== undefined) await checkRestartDir(o.restartDir, definition, cluster.vms.length);
  const password = await ensureUserPassword(config.userDir);
  return { config, cluster, password };
}

/**
 * `pcocc alloc`: salloc runs the launcher, which starts the VMs and then the user's shell or script. The
 * exit status is the launcher's, i.e. the shell's or script's, as it reports it: salloc says 0 for a launcher
 * killed by a signal, which then ends whatever the launcher left and fails.
 */
export async function alloc(args: string[]): Promise<number> {
  if (process.env.SLURM_JOB_ID) throw new PcoccError("Failure in job allocation: already in a job");
  const split = splitBatchArgs(args, ALLOC_OPTIONS);
  const o = launchOptions(split);
  const { config, cluster, password } = await prepareLaunch(split.definition, o);
  const reportDir = await mkdtemp(join(tmpdir(), "pcocc-alloc-"));
  const reportFile = join(reportDir, "launcher.json");
  const argv = [
    // named so that per-cluster verbs find it by default (a -J of the user's comes later and wins)
    "-J",
    DEFAULT_JOB_NAME,
    ...batchManagerArgs(config, split.passThrough, cluster.vms.length),
    ...launcherCommand({ ...launchRequest(split.definition, o), reportFile }),
  ];
  try {
    const code = await runForeground("salloc", argv, batchManagerEnv(password));
    return await launcherOutcome(reportFile, code);
  } finally {
    await rm(reportDir, { recursive: true, force: true });
  }
}

/**
 * Runs a child that owns the terminal for its lifetime. Like a shell, we ignore the terminal's SIGINT and
 * SIGQUIT (they reach the child too, which decides) and pass SIGTERM/SIGHUP on, so the exit status is the
 * child's.
 */
function runForeground(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: "inherit", env });
    const ignore = () => {};
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const onTerm = forward("SIGTERM");
    const onHup = forward("SIGHUP");
    process.on("SIGINT", ignore).on("SIGQUIT", ignore).on("SIGTERM", onTerm).on("SIGHUP", onHup);
    const done = () => {
      process.off("SIGINT", ignore).off("SIGQUIT", ignore).off("SIGTERM", onTerm).off("SIGHUP", onHup);
    };
    child.on("error", (err) => {
      done();
      const e = err as NodeJS.ErrnoException;
      reject(new PcoccError(`cannot run ${cmd}: ${e.code === "ENOENT" ? "command not found" : e.message}`));
    });
    child.on("exit", (code, signal) => {
      done();
      resolve(exitStatus(code, signal));
    });
  });
}
