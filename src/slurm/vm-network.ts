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
  const base = clusterPrefix(job.jobId);
  // each record on its own: the job's tree holds every node's records, which grows with the job
  return Promise.all(
    networks.map((net) => {
      const key = base + netRecordSubKey(net, nodeRank);
      return job.ks.waitFor(
        key,
        (entries): NicSpec | undefined => {
          const entry = entries.get(key);
          const vm = entry && checkRecord(NODE_NET_RECORD, key, entry.value)[`vm-${rank}`];
          return vm && { tap: vm.tap, mac: vm.mac };
        },
        {
          timeoutMs: NIC_WAIT_MS,
          timeoutMessage: `vm${rank}: the network setup of node rank ${nodeRank} did not publish its NICs`,
        },
      );
    }),
  );
}
