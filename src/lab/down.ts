import { existsSync, readFileSync, rmSync, rmdirSync, statSync } from "node:fs";
import { LAB_HOST, LAB_NET } from "./layout.js";
import type { LabPaths } from "./layout.js";
import { destroyLabNetwork, labNetnsNames } from "./network.js";
import { purgePackage } from "./package.js";
import { allPids, ancestry, nsOf, pidsWithEnv, processAlive, processComm, run, terminate } from "./procs.js";
import { slurmEnv } from "./slurm.js";
import { readLabState } from "./state.js";

/** Daemons the lab starts; any of them whose command line names the lab directory is the lab's. */
const LAB_DAEMONS = new Set([
  "etcd",
  "munged",
  "slurmctld",
  "slurmd",
  "slurmstepd",
  "ovsdb-server",
  "ovs-vswitchd",
]);
const SLURM_CLIENTS = new Set([
  "srun",
  "salloc",
  "sbatch",
  "sattach",
  "squeue",
  "sinfo",
  "scontrol",
  "scancel",
]);

/**
 * Stops everything the lab started and removes what it created, by pid and by name, even with jobs
 * running: jobs are cancelled first (slurmstepd ignores SIGTERM for a while), then lab clients in the root
 * netns, every process inside the node namespaces and the daemons; then namespaces, bridge, runtime
 * state and the pcocc package `up --from-package` installed. Safe to run when the lab is half up or already down.
 */
export async function teardownLab(paths: LabPaths): Promise<void> {
  const state = readLabState(paths);
  const ctldUp = state !== null && processAlive(state.daemons.slurmctld, paths.dir);
  if (ctldUp) {
    await run(["scancel", "--partition=debug"], { env: slurmEnv(paths), timeoutMs: 5000 });
  }

  const spare = ancestry(process.pid);
  const victims = new Set<number>();
  const add = (pid: number) => {
    if (!spare.has(pid) && pid > 1) victims.add(pid);
  };

  // Lab clients: SLURM commands pointed at this lab, and anything running inside one of its allocations.
  for (const pid of pidsWithEnv(`SLURM_CONF=${paths.slurmConf}`, (env) =>
    env.some((e) => e.startsWith("SLURM_JOB_ID=")),
  )) {
    add(pid);
  }
  for (const pid of pidsWithEnv(`SLURM_CONF=${paths.slurmConf}`)) {
    if (SLURM_CLIENTS.has(processComm(pid))) add(pid);
  }

  // Everything in a node: same netns as a lab namespace, or same mount namespace as a node's slurmd.
  const netnsIds = new Set<string>();
  for (const ns of labNetnsNames()) {
    try {
      netnsIds.add(`net:[${statSync(`/run/netns/${ns}`).ino}]`);
    } catch {
      /* raced */
    }
  }
  const mntIds = new Set<string>();
  for (const n of state?.info.nodes ?? []) {
    if (processAlive(n.pid, paths.dir)) mntIds.add(nsOf(n.pid, "mnt"));
  }
  mntIds.delete(nsOf("self", "mnt"));
  mntIds.delete("");
  for (const pid of allPids()) {
    if (netnsIds.has(nsOf(pid, "net")) || mntIds.has(nsOf(pid, "mnt"))) add(pid);
  }

  // The daemons themselves, recorded or found by name.
  if (state) {
    for (const pid of [state.daemons.etcd, state.daemons.munged, state.daemons.slurmctld]) {
      if (processAlive(pid, paths.dir)) add(pid);
    }
  }
  for (const pid of allPids()) {
    if (LAB_DAEMONS.has(processComm(pid)) && processAlive(pid, paths.dir)) add(pid);
  }

  await terminate([...victims], 3000);
  await destroyLabNetwork();
  removeRuntime(paths, state?.createdMountpoints ?? []);
  if (state?.installedPackage) await purgePackage();
  try {
    if (readFileSync(LAB_HOST.ownerFile, "utf8").trim() === paths.dir) rmSync(LAB_HOST.ownerFile);
  } catch {
    /* not recorded */
  }
}

function removeRuntime(paths: LabPaths, createdMountpoints: string[]): void {
  for (const p of [paths.run, paths.state, paths.nodes, paths.mungeSocket, `${paths.mungeSocket}.lock`]) {
    rmSync(p, { recursive: true, force: true });
  }
  for (const dir of createdMountpoints) {
    try {
      rmdirSync(dir);
    } catch {
      /* not empty or in use by someone else: leave it */
    }
  }
}

/** What of the lab is still present on the host (used by status and the down test). */
export function labLeftovers(paths: LabPaths): string[] {
  const left: string[] = [];
  for (const ns of labNetnsNames()) left.push(`netns ${ns}`);
  if (existsSync(`/sys/class/net/${LAB_NET.bridge}`)) left.push(`bridge ${LAB_NET.bridge}`);
  for (const pid of allPids()) {
    const comm = processComm(pid);
    if (LAB_DAEMONS.has(comm) && processAlive(pid, paths.dir)) left.push(`process ${pid} (${comm})`);
  }
  if (existsSync(paths.nodes)) left.push(`node state ${paths.nodes}`);
  return left;
}
