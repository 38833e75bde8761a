import { userInfo } from "node:os";
import type { ClusterDefinition, ClusterFacts, VmFacts, VmNetFacts } from "../cluster/index.js";
import type { PcoccConfig } from "../config/index.js";
import {
  checkRecord,
  clusterPrefix,
  clusterUserPrefix,
  JOB_SECRET,
  JOB_SECRET_SUBKEY,
  NODE_NET_RECORD,
  netRecordSubKey,
  type JobHandle,
  type NodeNetRecord,
} from "../keystore/index.js";

/** How long a hypervisor waits for every node's network setup and the launcher's secret. */
const FACTS_WAIT_MS = 60_000;

/**
 * The cluster facts of VM `self`: every VM's addresses as the nodes' network setups published them
 * (`/pcocc/cluster/<jobid>/<net>/<node_rank>`, all written before any hypervisor starts its VM) and the
 * job's secret from the user's tree. Both are etcd watches, not polls; records are checked as input.
 */
export async function gatherClusterFacts(
  config: PcoccConfig,
  job: JobHandle,
  cluster: ClusterDefinition,
  rankMap: number[],
  self: number,
): Promise<ClusterFacts> {
  const networksOf = (rs: string): string[] => config.resourceSets[rs]?.networks ?? [];
  const base = clusterPrefix(job.jobId);
  const userBase = clusterUserPrefix(job.user, job.jobId);
  const [vms, secret] = await Promise.all([
    job.ks.waitFor(
      base,
      (entries) => {
        const records = new Map<string, NodeNetRecord>();
        const record = (net: string, node: number): NodeNetRecord | undefined => {
          const key = base + netRecordSubKey(net, node);
          const cached = records.get(key);
          if (cached) return cached;
          const entry = entries.get(key);
          if (!entry) return undefined;
          const rec = checkRecord(NODE_NET_RECORD, key, entry.value);
          records.set(key, rec);
          return rec;
        };
        const out: VmFacts[] = [];
        for (const vm of cluster.vms) {
          const networks: Record<string, VmNetFacts> = {};
          for (const net of networksOf(vm.resourceSet)) {
            const nic = record(net, rankMap[vm.rank]!)?.[`vm-${vm.rank}`];
            if (!nic) return undefined;
            networks[net] = { mac: nic.mac, ip: nic.ip, natIp: nic["ext-ip"], domain: nic["domain-name"] };
          }
          const first = Object.values(networks).find((n) => n.ip);
          out.push({
            name: vm.name,
            index: vm.rank,
            template: vm.template,
            ip: first?.ip,
            natIp: first?.natIp,
            networks,
          });
        }
        return out;
      },
      {
        timeoutMs: FACTS_WAIT_MS,
        timeoutMessage: `vm${self}: not every node's network setup published its VMs' addresses`,
      },
    ),
    job.ks.waitFor(
      userBase,
      (entries) => {
        const key = userBase + JOB_SECRET_SUBKEY;
        const e = entries.get(key);
        return e && checkRecord(JOB_SECRET, key, e.value);
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
