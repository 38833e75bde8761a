import {
  checkRecord,
  clusterPrefix,
  NODE_NET_RECORD,
  netRecordSubKey,
  type JobHandle,
} from "../keystore/index.js";
import type { NicSpec } from "../vm/index.js";

/** How long a hypervisor waits for its node's network setup to publish the VM's NICs. */
const NIC_WAIT_MS = 60_000;

/**
 * The NICs the root setup made for VM `rank` on this node: one per network of the VM's resource set, read
 * from `/pcocc/cluster/<jobid>/<net>/<node_rank>` → `{ "vm-<rank>": { tap, mac, ... } }`. Values come from
 * etcd: a malformed record is an error naming its key.
 */
export async function readVmNics(
  job: JobHandle,
  networks: string[],
  nodeRank: number,
  rank: number,
): Promise<NicSpec[]> {
  if (networks.length === 0) return [];
  const base = clusterPrefix(job.jobId);
  return job.ks.waitFor(
    base,
    (entries) => {
      const nics: NicSpec[] = [];
      for (const net of networks) {
        const key = base + netRecordSubKey(net, nodeRank);
        const entry = entries.get(key);
        if (!entry) return undefined;
        const vm = checkRecord(NODE_NET_RECORD, key, entry.value)[`vm-${rank}`];
        if (!vm) return undefined;
        nics.push({ tap: vm.tap, mac: vm.mac });
      }
      return nics;
    },
    {
      timeoutMs: NIC_WAIT_MS,
      timeoutMessage: `vm${rank}: the network setup of node rank ${nodeRank} did not publish its NICs`,
    },
  );
}
