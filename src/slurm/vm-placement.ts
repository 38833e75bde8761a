import { watchVmStates, type Following, type Keystore, type VmState } from "../keystore/index.js";
import { PcoccError } from "../util/index.js";
import { locateRank, ON_VM_NODE_ENV, openCluster, type ClusterInfo } from "./cluster-info.js";
import { pcoccCommand } from "./pcocc-command.js";
import { runOnVmNode } from "./remote.js";
import type { JobTargetOptions } from "./target.js";

/** Where the VMs a per-VM verb (console, reset, save, ...) acts on run, relative to this process. */
export interface VmPlacement {
  jobId: string;
  user: string;
  /** The cluster definition (unknown on a node the verb hopped to). */
  definition?: string;
  /** Ranks whose sockets are on this node. */
  local: number[];
  /** Other nodes and the ranks they run. */
  remote: Map<string, number[]>;
}

/** How long a verb waits for a starting VM to be running (pcocc's console waits the same way). */
const VM_RUNNING_WAIT_MS = 300_000;

async function waitRunning(ks: Keystore, cluster: ClusterInfo, ranks: number[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let following: Promise<Following | undefined> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new PcoccError(`timed out waiting for vm${ranks.join(", vm")} to start`)),
        VM_RUNNING_WAIT_MS,
      );
      const check = (states: Map<number, VmState>) => {
        for (const r of ranks) {
          const s = states.get(r);
          if (s?.state === "failed") return reject(new PcoccError(`vm${r} failed to start: ${s.desc}`));
          if (s?.state !== "running") return;
        }
        resolve();
      };
      following = watchVmStates(ks, cluster.user, cluster.jobId, check, reject).catch((err) => {
        reject(err);
        return undefined;
      });
    });
  } finally {
    clearTimeout(timer);
    // the first view can settle the wait before the watch is even established: close it once it is
    await (await following)?.close();
  }
}

/**
 * Job targeting for per-VM verbs, replacing "look for the VM's sockets on this node": finds the job
 * (`-j/-J/--user`, `$SLURM_JOB_ID`, name `pcocc`), waits until the VMs run (unless `waitRunning` is false:
 * the console log is there as soon as the hypervisor started, and is most wanted when the VM never runs),
 * and sorts them into the ones reachable here and the ones to reach through their node (`hopToNode`).
 */
export async function placeVms(
  opts: JobTargetOptions,
  which: number[] | "all",
  { waitRunning: wait = true }: { waitRunning?: boolean } = {},
): Promise<VmPlacement> {
  if (process.env[ON_VM_NODE_ENV] === "1" && opts.jobId !== undefined && which !== "all") {
    // started by hopToNode on the VM's node: the placement was done by the caller
    return { jobId: opts.jobId, user: opts.user ?? "", local: which, remote: new Map() };
  }
  const { ks, cluster } = await openCluster(opts);
  try {
    const placement: VmPlacement = {
      jobId: String(cluster.jobId),
      user: cluster.user,
      definition: cluster.definition,
      local: [],
      remote: new Map(),
    };
    const ranks = which === "all" ? cluster.rankMap.map((_, r) => r) : which;
    for (const r of ranks) {
      const loc = locateRank(cluster, r);
      if (loc.local) placement.local.push(r);
      else placement.remote.set(loc.node, [...(placement.remote.get(loc.node) ?? []), r]);
    }
    if (wait) await waitRunning(ks, cluster, ranks);
    return placement;
  } finally {
    await ks.close();
  }
}

/**
 * Runs `pcocc <verb> -j <job> <args>` on `node` inside the job (overlapping srun step), where the VM's
 * sockets are; with `pty` the user's terminal is passed through raw (console). The job goes right after the
 * verb, before arguments that may be free text (monitor-cmd). Resolves with its exit status.
 */
export function hopToNode(
  placement: VmPlacement,
  node: string,
  [verb, ...args]: string[],
  opts: { pty: boolean },
) {
  const argv = pcoccCommand(verb!, "-j", placement.jobId, ...args);
  return runOnVmNode({ jobId: placement.jobId, node }, argv, opts);
}

/** `vm[1,3]` for a list of ranks (the VM-set syntax every verb accepts). */
export function vmSet(ranks: number[]): string {
  return ranks.length === 1 ? `vm${ranks[0]}` : `vm[${ranks.join(",")}]`;
}
