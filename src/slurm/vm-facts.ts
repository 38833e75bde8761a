import { userInfo } from "node:os";
import type { ClusterDefinition, ClusterFacts, VmFacts, VmNetFacts } from "../cluster/index.js";
import type { PcoccConfig } from "../config/index.js";
import {
  checkRecord,
  clusterUserPrefix,
  JOB_SECRET,
  JOB_SECRET_SUBKEY,
  type JobHandle,
  type NodeNetRecord,
} from "../keystore/index.js";
import { PcoccError } from "../util/index.js";
import { waitNodeNetRecord } from "./vm-network.js";

/** How long a hypervisor waits for every node's network setup and the launcher's secret. */
const FACTS_WAIT_MS = 60_000;

/**
 * The cluster facts of VM `self`: every VM's addresses as the nodes' network setups published them (each
 * node's record of each network, all written before any hypervisor starts its VM) and the job's secret from
 * the user's tree. Each key is watched on its own, never the job's whole tree; records are checked as input.
 */
export async function gatherClusterFacts(
  config: PcoccConfig,
  job: JobHandle,
  cluster: ClusterDefinition,
  rankMap: number[],
  self: number,
): Promise<ClusterFacts> {
  const networksOf = (rs: string): string[] => config.resourceSets[rs]?.networks ?? [];
  const wait = {
    timeoutMs: FACTS_WAIT_MS,
    timeoutMessage: `vm${self}: not every node's network setup published its VMs' addresses`,
  };
  const wanted = new Map<string, Promise<NodeNetRecord>>();
  const record = (net: string, node: number): Promise<NodeNetRecord> => {
    const id = `${net}/${node}`;
    if (!wanted.has(id)) wanted.set(id, waitNodeNetRecord(job, net, node, wait));
    return wanted.get(id)!;
  };
  const vmFacts = (vm: ClusterDefinition["vms"][number]): Promise<VmFacts> =>
    Promise.all(
      networksOf(vm.resourceSet).map(async (net): Promise<[string, VmNetFacts]> => {
        const nic = (await record(net, rankMap[vm.rank]!))[`vm-${vm.rank}`];
        if (!nic) throw new PcoccError(`${wait.timeoutMessage} (no vm-${vm.rank} in the ${net} record)`);
        return [net, { mac: nic.mac, ip: nic.ip, natIp: nic["ext-ip"], domain: nic["domain-name"] }];
      }),
    ).then((nets) => {
      const networks = Object.fromEntries(nets);
      const first = Object.values(networks).find((n) => n.ip);
      return {
        name: vm.name,
        index: vm.rank,
        template: vm.template,
        ip: first?.ip,
        natIp: first?.natIp,
        networks,
      };
    });
  const secretKey = clusterUserPrefix(job.user, job.jobId) + JOB_SECRET_SUBKEY;
  const [vms, secret] = await Promise.all([
    Promise.all(cluster.vms.map(vmFacts)),
    job.ks.waitFor(
      secretKey,
      (entries) => {
        const e = entries.get(secretKey);
        return e && checkRecord(JOB_SECRET, secretKey, e.value);
      },
      {
        timeoutMs: FACTS_WAIT_MS,
        timeoutMessage: `vm${self}: the launcher did not publish the job's secret`,
      },
    ),
  ]);
  // the task runs as the job's user (SLURM made it so)
  const me = userInfo();
  return {
    version: 1,
    jobId: job.jobId,
    self,
    secret,
    user: { name: job.user, uid: me.uid, gid: me.gid },
    vms,
  };
}
