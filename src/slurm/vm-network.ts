import {
  checkRecord,
  clusterPrefix,
  NODE_NET_RECORD,
  netRecordSubKey,
  type JobHandle,
  type NodeNetRecord,
} from "../keystore/index.js";
import { PcoccError } from "../util/index.js";
import type { NicSpec } from "../vm/index.js";

/** How long a hypervisor waits for its node's network setup to publish the VM's NICs. */
const NIC_WAIT_MS = 60_000;

/**
 * Node `nodeRank`'s record of network `net` (`/pcocc/cluster/<jobid>/<net>/<node_rank>`, written once by its
 * root setup), once there. Each record is waited for on its own key: the job's tree holds every node's records
 * and every VM's states, which grow with the job. Values come from etcd: a malformed record is an error naming
 * its key.
 */
export function waitNodeNetRecord(
  job: JobHandle,
  net: string,
  nodeRank: number,
  wait: { timeoutMs: number; timeoutMessage: string },
): Promise<NodeNetRecord> {
  const key = clusterPrefix(job.jobId) + netRecordSubKey(net, nodeRank);
  return job.ks.waitFor(
    key,
    (entries) => {
      const entry = entries.get(key);
      return entry && checkRecord(NODE_NET_RECORD, key, entry.value);
    },
    wait,
  );
}

/** The NICs the root setup made for VM `rank` on this node: one per network of the VM's resource set. */
export async function readVmNics(
  job: JobHandle,
  networks: string[],
  nodeRank: number,
  rank: number,
): Promise<NicSpec[]> {
  return Promise.all(
    networks.map(async (net) => {
      const timeoutMessage = `vm${rank}: the network setup of node rank ${nodeRank} did not publish its NICs`;
      const vm = (await waitNodeNetRecord(job, net, nodeRank, { timeoutMs: NIC_WAIT_MS, timeoutMessage }))[
        `vm-${rank}`
      ];
      if (!vm) throw new PcoccError(`${timeoutMessage} (no vm-${rank} in its ${net} record)`);
      return { tap: vm.tap, mac: vm.mac };
    }),
  );
}
