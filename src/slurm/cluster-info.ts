import { hostname } from "node:os";
import { loadConfig, type PcoccConfig } from "../config/index.js";
import {
  checkRecord,
  CLUSTER_DESCRIPTION,
  clusterPrefix,
  clusterUserPrefix,
  openKeystore,
  recordOrUndefined,
  rnatSubKey,
  RNAT_PORT,
  type Keystore,
} from "../keystore/index.js";
import { PcoccError } from "../util/index.js";
import { squeueJobs } from "./commands.js";
import { resolveJobTarget, type JobTarget, type JobTargetOptions } from "./target.js";

/** What the launcher records about a running cluster (user keys of the job). */
export interface ClusterInfo extends JobTarget {
  definition: string;
  /** Node index of each VM rank. */
  rankMap: number[];
  nodes: string[];
}

/** How long a command aimed at a cluster that is still starting waits for it to be described. */
const DESCRIBE_WAIT_MS = 300_000;

function parseInfo(target: JobTarget, values: Map<string, unknown>): ClusterInfo | undefined {
  // written one key at a time by the launcher: incomplete or malformed reads as not described yet
  const c = recordOrUndefined(CLUSTER_DESCRIPTION, {
    definition: values.get("definition"),
    nodes: values.get("nodes"),
    rankMap: values.get("rank_map"),
  });
  return c && { ...target, ...c };
}

/**
 * Reads the description of the target job's cluster, waiting while a job that SLURM still runs starts up;
 * a job SLURM does not know fails at once.
 */
async function readClusterInfo(ks: Keystore, target: JobTarget): Promise<ClusterInfo> {
  const prefix = clusterUserPrefix(target.user, target.jobId);
  const parse = (entries: Map<string, { value: unknown }>) => {
    const values = new Map<string, unknown>();
    for (const [k, e] of entries) values.set(k.slice(prefix.length), e.value);
    return parseInfo(target, values);
  };
  const now = parse((await ks.getPrefix(prefix)).entries);
  if (now) return now;
  const jobs = await squeueJobs({ jobId: String(target.jobId) });
  if (!jobs.some((j) => j.user === target.user && /^(R|PD|CF)$/.test(j.state))) {
    throw new PcoccError(`job ${target.jobId} of ${target.user} is not a running pcocc cluster`);
  }
  return ks.waitFor(prefix, parse, {
    timeoutMs: DESCRIBE_WAIT_MS,
    timeoutMessage: `job ${target.jobId} of ${target.user} is not a running pcocc cluster`,
  });
}

/** Host port that reverse-NATs `vmRank:vmPort` (`/pcocc/cluster/<jobid>/rnat/<rank>/<port>`). */
export async function reverseNatPort(
  ks: Keystore,
  jobId: number,
  rank: number,
  vmPort: number,
): Promise<number> {
  const e = await ks.get(clusterPrefix(jobId) + rnatSubKey(rank, vmPort));
  if (!e) throw new PcoccError(`Error: port ${vmPort} is not reverse NATed`);
  const port = checkRecord(RNAT_PORT, e.key, e.value);
  return port;
}

export interface VmLocation {
  cluster: ClusterInfo;
  rank: number;
  name: string;
  node: string;
  /** This process runs on the VM's node (its sockets are reachable here). */
  local: boolean;
}

/** Marks a pcocc started by `runOnVmNode` on the VM's node: it must act locally, never hop again. */
export const ON_VM_NODE_ENV = "PCOCC_ON_VM_NODE";

export function locateRank(
  cluster: ClusterInfo,
  rank: number,
  env: NodeJS.ProcessEnv = process.env,
): VmLocation {
  const nodeIndex = cluster.rankMap[rank];
  if (nodeIndex === undefined) {
    throw new PcoccError(`invalid vm name vm${rank}: the cluster has ${cluster.rankMap.length} VMs`);
  }
  const node = cluster.nodes[nodeIndex]!;
  const local = env[ON_VM_NODE_ENV] === "1" || hostname().split(".")[0] === node;
  return { cluster, rank, name: `vm${rank}`, node, local };
}

/** Job targeting + keystore + cluster description: the common start of every per-cluster verb. */
export async function openCluster(
  opts: JobTargetOptions,
): Promise<{ config: PcoccConfig; ks: Keystore; cluster: ClusterInfo }> {
  const target = await resolveJobTarget(opts);
  const config = await loadConfig();
  const ks = await openKeystore({ config, as: "user" });
  try {
    return { config, ks, cluster: await readClusterInfo(ks, target) };
  } catch (err) {
    await ks.close();
    throw err;
  }
}
