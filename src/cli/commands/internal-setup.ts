import type { Command } from "commander";
import type { PcoccConfig } from "../../config/index.js";
import { PcoccError } from "../../util/index.js";

export interface SetupFlags {
  jobid?: string;
  force?: boolean;
  nolock?: boolean;
}

/**
 * pcocc's `-j/--jobid`, `-F/--force` and `--nolock`, within the root path's rules. `-j N` (delete only) names
 * the job to remove for an administrator's manual cleanup outside any SLURM step: the job's facts then come
 * from nothing the job's user controls (the number given by root, this node's root-owned setup record and
 * squeue), never from the environment, which is not read at all; so it is refused where a SPANK environment
 * is present (its job comes from slurmstepd). `-F` only lifts the refusal to delete a job squeue still lists.
 * `--nolock` skips the node lock (which keeps concurrent setups from choosing the same names, ports and
 * addresses), as in pcocc, but only as an administrator's own command: like `-j`, it is refused where a SPANK
 * environment is present, and the SPANK plugin never passes it.
 * Returns the manual job id, if any.
 */
export function manualDeleteJob(
  action: string,
  flags: SetupFlags,
  env: NodeJS.ProcessEnv,
): number | undefined {
  const fail = (msg: string, exitCode = 255): never => {
    throw new PcoccError(msg, { exitCode });
  };
  const inStep = env.SLURM_JOB_ID !== undefined || env.SPANK_PCOCC_SETUP !== undefined;
  if (flags.nolock && inStep)
    fail(
      "--nolock is for an administrator's command outside a SLURM step (SLURM_JOB_ID or SPANK_PCOCC_SETUP is set)",
    );
  if ((flags.jobid !== undefined || flags.force) && action !== "delete")
    fail("-j/--jobid and -F/--force can only be used with delete", 2);
  if (flags.jobid === undefined) {
    if (flags.force) fail("-F/--force needs -j/--jobid", 2);
    return undefined;
  }
  if (!/^[0-9]{1,10}$/.test(flags.jobid) || Number(flags.jobid) > 2 ** 32 - 2)
    fail(`-j/--jobid: invalid job id '${flags.jobid}'`);
  if (inStep)
    fail("-j/--jobid is for manual cleanup outside a SLURM step (SLURM_JOB_ID or SPANK_PCOCC_SETUP is set)");
  return Number(flags.jobid);
}

/**
 * `pcocc internal setup init|cleanup|create|delete` (root). init/cleanup: node-level network objects (admin,
 * systemd unit; create makes them too). create/delete: one job's networks on this node, called by the SPANK plugin with the job's
 * SLURM_* variables and SPANK_PCOCC_SETUP in a clean environment.
 */
export function register(program: Command): void {
  const internal =
    program.commands.find((c) => c.name() === "internal") ??
    program.command("internal", { hidden: true }).description("pcocc's own building blocks");
  internal
    .command("setup")
    .description("privileged node setup (root): init | cleanup | create | delete")
    .argument("<action>", "init, cleanup, create or delete")
    .option("--ovsdb-socket <path>", "Open vSwitch database socket", "/run/openvswitch/db.sock")
    .option("-j, --jobid <id>", "delete: the job to remove, for manual cleanup outside a SLURM step")
    .option("-F, --force", "with -j: delete even if squeue still lists the job")
    .option("--nolock", "do not take the node lock (an administrator's command outside a SLURM step)")
    .action(async (action: string, opts: SetupFlags & { ovsdbSocket: string }) => {
      if (!["init", "cleanup", "create", "delete"].includes(action))
        throw new PcoccError(`unknown setup action '${action}' (init, cleanup, create or delete)`);
      const manualJob = manualDeleteJob(action, opts, process.env);
      if (process.getuid?.() !== 0) throw new PcoccError("pcocc internal setup must run as root");
      const { loggedSetupPhase } = await import("../setup-log.js");
      await loggedSetupPhase(action, (facts) => runSetup(action, opts, manualJob, facts));
    });
}

/** The action itself; `facts` collects what its log line names (job, node rank, VMs). */
async function runSetup(
  action: string,
  opts: SetupFlags & { ovsdbSocket: string },
  manualJob: number | undefined,
  facts: Record<string, unknown>,
): Promise<void> {
  const { loadConfig } = await import("../../config/index.js");
  const jobs = await import("../../job/index.js");
  const net = await import("../../net/index.js");
  const vm = await import("../../vm/index.js");
  const { createHypervisorLog, sealHypervisorLog } = await import("../../util/index.js");
  const config = await loadConfig({ user: false });
  const so = { ovsdbSocket: opts.ovsdbSocket, nolock: opts.nolock === true };
  switch (action) {
    case "init":
      await net.setupInit(config, so);
      break;
    case "cleanup": {
      const liveJobs = await (await import("../../slurm/index.js")).liveJobIds();
      const { reclaimed, kept, strays } = await net.setupCleanup(config, { ...so, liveJobs });
      for (const id of await vm.jobStateDirIds()) if (!liveJobs.includes(id)) await vm.removeJobStateDir(id);
      Object.assign(facts, { reclaimed, kept });
      if (reclaimed.length) console.error(`Deleted leftovers of jobs ${reclaimed.join(", ")}`);
      if (kept.length)
        console.error(
          `Kept the network objects of running jobs ${kept.join(", ")} and the node-level rules they use`,
        );
      const n = Object.values(strays).flat().length;
      if (n) console.error(`Deleted ${n} leftover objects: ${Object.values(strays).flat().join(" ")}`);
      break;
    }
    case "create": {
      const job = jobs.setupCreateJobFromEnv(process.env);
      Object.assign(facts, { jobId: job.jobId, nodeRank: job.nodeRank, user: job.user, vms: nodeVms(job) });
      await vm.createJobStateDir(job);
      // the node-level objects (idempotent) are made while the keystore part runs: one process, not two
      const nodeReady = net.setupInit(config, so);
      nodeReady.catch(() => undefined);
      // a create that fails leaves nothing, its VM state directory included
      await jobs
        .beginJobOnNode(config, job, async (handle) => {
          await nodeReady;
          await net.setupCreate(config, job, handle, so);
        })
        .catch(async (err: unknown) => {
          await nodeReady.catch(() => undefined);
          await vm.removeJobStateDir(job.jobId);
          throw err;
        });
      await createHypervisorLog(job).catch((err: Error) => {
        console.error(`pcocc: no hypervisor log for job ${job.jobId} on this node: ${err.message}`);
      });
      break;
    }
    case "delete": {
      if (manualJob !== undefined) {
        facts.jobId = manualJob;
        await deleteManually(config, manualJob, { ...so, force: opts.force === true });
        await sealHypervisorLog(manualJob);
        break;
      }
      const job = jobs.setupIdentityFromEnv(process.env);
      Object.assign(facts, { jobId: job.jobId, nodeRank: job.nodeRank, user: job.user });
      try {
        await jobs.endJobOnNode(config, job, (ks) => net.setupDelete(config, job, ks, so));
      } finally {
        await vm.removeJobStateDir(job.jobId);
        await sealHypervisorLog(job.jobId);
      }
      break;
    }
  }
}

/** The VMs this node hosts: SLURM gives ranks to tasks node after node. */
function nodeVms(job: { nodeRank: number; vmsPerNode: number[] }): string[] {
  const first = job.vmsPerNode.slice(0, job.nodeRank).reduce((a, b) => a + b, 0);
  return Array.from({ length: job.vmsPerNode[job.nodeRank] ?? 0 }, (_, i) => `vm${first + i}`);
}

/** `setup delete -j N`: this node's share of job N, as its own record describes it; the job's keys on rank 0. */
async function deleteManually(
  config: PcoccConfig,
  jobId: number,
  opts: { ovsdbSocket: string; nolock: boolean; force: boolean },
): Promise<void> {
  const [jobs, net, vm, slurm] = await Promise.all([
    import("../../job/index.js"),
    import("../../net/index.js"),
    import("../../vm/index.js"),
    import("../../slurm/index.js"),
  ]);
  if (!opts.force && (await slurm.liveJobIds()).includes(jobId))
    throw new PcoccError(`job ${jobId} is still running (squeue lists it); -F deletes its setup anyway`);
  const so = { ovsdbSocket: opts.ovsdbSocket, nolock: opts.nolock };
  const nodeRank = await net.recordedNodeRank(jobId, so);
  if (nodeRank === undefined) console.error(`No network setup of job ${jobId} on this node`);
  else {
    const job = { jobId, nodeRank };
    await jobs.endJobOnNode(config, job, (ks) => net.setupDelete(config, job, ks, so));
  }
  await vm.removeJobStateDir(jobId);
}
