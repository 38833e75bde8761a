import { PcoccError } from "../util/index.js";
import { locateLocalVm, parseVmName, type VmEndpoint } from "../vm/index.js";

/** How the per-VM verbs (console, reset, save) name their VMs. */
export interface VmTargetOptions {
  jobid?: string;
  jobname?: string;
  user?: string;
  /** A VM's hypervisor state directory on this node: no job targeting, nothing runs elsewhere. */
  stateDir?: string;
}

export interface HopOptions {
  /** Pass the user's terminal through, raw (console). */
  pty: boolean;
  /** False when the verb needs only the hypervisor, not a running VM (default true). */
  waitRunning?: boolean;
  /** The verb's work on this node's VMs, run while the other nodes do theirs. */
  here?: (ranks: number[], jobId?: string) => Promise<void>;
  /**
   * Run once the job is known to be the user's running cluster, before any VM is acted on: what the verb
   * creates (ckpt's directory) must not exist for a job it then refuses.
   */
  ready?: () => Promise<void>;
}

/**
 * A VM's sockets exist only on its node, so a per-VM verb runs again, inside the job, on every other node
 * holding some of `ranks`, as `pcocc <verbArgs(vm set of that node)>`. Resolves with this node's ranks (left
 * to act on, unless `hop.here` already did), the job id that finds their state directories, and the exit
 * statuses of the runs elsewhere.
 */
export async function hopToVmNodes(
  ranks: number[] | "all",
  opts: VmTargetOptions,
  verbArgs: (vms: string) => string[],
  hop: HopOptions,
): Promise<{ ranks: number[]; jobId?: string; hopCodes: number[]; definition?: string; total: number }> {
  if (opts.stateDir) {
    if (ranks === "all") throw new PcoccError("--state-dir names a single VM");
    await hop.ready?.();
    await hop.here?.(ranks, opts.jobid);
    return { ranks, jobId: opts.jobid, hopCodes: [], total: ranks.length };
  }
  // loaded only here: --state-dir needs neither SLURM nor etcd
  const { placeVms, hopToNode, vmSet } = await import("../slurm/index.js");
  const p = await placeVms({ jobId: opts.jobid, jobName: opts.jobname, user: opts.user }, ranks, {
    waitRunning: hop.waitRunning,
  });
  await hop.ready?.();
  const [hopCodes] = await Promise.all([
    Promise.all([...p.remote].map(([node, rs]) => hopToNode(p, node, verbArgs(vmSet(rs)), { pty: hop.pty }))),
    hop.here?.(p.local, p.jobId),
  ]);
  const total = p.local.length + [...p.remote.values()].reduce((n, rs) => n + rs.length, 0);
  return { ranks: p.local, jobId: p.jobId, hopCodes, definition: p.definition, total };
}

/**
 * `vm` when it runs on this node; undefined when `pcocc <verbArgs>` ran on the VM's node instead, whose exit
 * status is then already ours.
 */
export async function localVmOrHop(
  vm: string,
  opts: VmTargetOptions,
  verbArgs: string[],
  hop: HopOptions,
): Promise<VmEndpoint | undefined> {
  const { ranks, jobId, hopCodes } = await hopToVmNodes([parseVmName(vm)], opts, () => verbArgs, hop);
  if (ranks.length === 0) {
    process.exitCode = hopCodes[0];
    return undefined;
  }
  return locateLocalVm({ vm, jobId, stateDir: opts.stateDir });
}
