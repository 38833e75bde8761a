import { clusterPrefix, type JobHandle } from "../keystore/index.js";
import { PcoccError } from "../util/index.js";
import type { NicSpec } from "../vm/index.js";

/** How long a hypervisor waits for its node's network setup to publish the VM's NICs. */
const NIC_WAIT_MS = 60_000;

const TAP = /^[A-Za-z0-9_.-]{1,15}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/**
 * The NICs the root setup made for VM `rank` on this node: one per network of the VM's resource set, read
 * from `/pcocc/cluster/<jobid>/<net>/<node_rank>` → `{ "vm-<rank>": { tap, mac, ... } }`. Values come from
 * etcd, so only well-formed tap names and MAC addresses are accepted.
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
        const node = entries.get(`${base}${net}/${nodeRank}`)?.value as Record<string, unknown> | undefined;
        const vm = node?.[`vm-${rank}`] as Record<string, unknown> | undefined;
        if (!vm) return undefined;
        const tap = vm.tap;
        const mac = vm.mac;
        if (typeof tap !== "string" || !TAP.test(tap) || typeof mac !== "string" || !MAC.test(mac)) {
          throw new PcoccError(`network ${net}: malformed NIC record for vm${rank} in the keystore`);
        }
        nics.push({ tap, mac });
      }
      return nics;
    },
    {
      timeoutMs: NIC_WAIT_MS,
      timeoutMessage: `vm${rank}: the network setup of node rank ${nodeRank} did not publish its NICs`,
    },
  );
}
