/**
 * The built-in lab: a real virtual HPC cluster on this machine (etcd with auth, munge, slurmctld, N slurmd
 * each in its own network + UTS + mount namespace with its own Open vSwitch, a pcocc system config and
 * unprivileged users). Used by the integration tests, the README demo and admins trying pcocc.
 * Production code never imports this folder.
 */
import { LAB_HOST, defaultLabDir, labPaths } from "./layout.js";
import { withLabLock } from "./lock.js";
import { readLabState, labRunning } from "./state.js";
import type { LabInfo, LabUpOptions } from "./types.js";

export type { LabInfo, LabNode, LabUpOptions, LabUser } from "./types.js";
export type { NodeExecOptions, UserExecOptions } from "./exec.js";
export type { RunResult } from "./procs.js";
export { labEnv, nodeArgv, nodeExec, nodeSpawn, userEnv, userExec, userSpawn } from "./exec.js";

/**
 * Brings the lab up (idempotent: a running lab with the same shape is returned as is), then, unless
 * `images: false`, makes sure the guest images are built, imported and templated. The images step runs
 * outside the machine-wide lab lock: its cold build takes minutes and others may use the lab meanwhile.
 */
export async function labUp(opts: LabUpOptions = {}, dir = defaultLabDir()): Promise<LabInfo> {
  const { runInstallDeps, bringUp, writePcoccConfig } = await import("./up.js");
  await runInstallDeps();
  const paths = labPaths(dir);
  const { mkdirSync } = await import("node:fs");
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const info = await withLabLock(LAB_HOST.lockFile, () => bringUp(paths, opts));
  if (opts.images ?? true) {
    const { prepareGuests } = await import("./guests.js");
    const say = opts.onProgress ?? (() => {});
    say("preparing the lab guest images");
    await withLabLock(`${dir}/images.lock`, async () =>
      writePcoccConfig(paths, await prepareGuests(paths, say)),
    );
    say("lab guest images ready");
  }
  return info;
}

/** Stops everything the lab started and removes what it created; a no-op when it is down. */
export async function labDown(dir = defaultLabDir()): Promise<void> {
  const { existsSync } = await import("node:fs");
  if (!existsSync(dir)) return;
  const { teardownLab } = await import("./down.js");
  const paths = labPaths(dir);
  await withLabLock(LAB_HOST.lockFile, () => teardownLab(paths));
}

/** The running lab, or null when it is down (or only partly up). */
export async function labStatus(dir = defaultLabDir()): Promise<LabInfo | null> {
  const state = readLabState(labPaths(dir));
  return state?.ready && labRunning(state) ? state.info : null;
}
