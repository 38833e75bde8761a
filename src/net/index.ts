/**
 * Host networking (root): node-level setup (`setupInit`/`setupCleanup`) and per-job, per-node private
 * networks (`setupCreate`/`setupDelete`, run inside the job's lifecycle: see job/lifecycle.ts). Design: see
 * the header of ./plan.ts.
 *
 * etcd keys written for each job (under the job's lease, relative to /pcocc/cluster/<jobid>/):
 *   <net>/<node_rank>          { "vm-<rank>": { tap, mac, ip?, "ext-ip"?, hostPort?, "domain-name"? },
 *                                global: { int_br_name, master } }   — read by the hypervisor
 *   rnat/<vm_rank>/<vm_port>   host port (number) on the VM's node                — read by `pcocc ssh`
 * Root only (/pcocc/global/jobs/<jobid>/): coll_alloc/net/type/ethernet/key_alloc_state/<net>_tun_key,
 * [VNI id] (master → other nodes). VNIs are drawn at random and never published to users.
 * Allocators (global): net/type/ethernet/key_alloc_state (VNI = 1024 + id) and natip_alloc_state
 * (ext address = ext-network + id + 1). Node-local records: /run/pcocc/job-<id>/record.json.
 */
export { setupInit, setupCleanup, setupCreate, setupDelete, recordedNodeRank } from "./setup.js";
export type { SetupOptions } from "./setup.js";
export { planNode, planInit, jobNetworks } from "./plan.js";
export type { JobSpec, NodePlan, JobRecord, VmNic } from "./plan.js";
export { applyPlan, teardown } from "./apply.js";
export { listRecords } from "./records.js";
export { OvsdbClient, DEFAULT_OVSDB_SOCKET } from "./ovsdb.js";
export { nodeNetworkProblems } from "./node-check.js";
