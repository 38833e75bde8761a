import type { NodeNetRecord, VmNic } from "../keystore/index.js";
import type { Addressing } from "./addressing.js";
import type { LinkKind, NetView } from "./net-view.js";
import type { NetOp } from "./native.js";
import type { OvsBridgeSpec, OvsPortSpec } from "./ovs.js";

/** The inputs and outputs of a node's network plan (see the header of ./plan.ts). */

export interface JobSpec {
  jobId: number;
  user: string;
  uid: number;
  gid: number;
  nodeRank: number;
  nodes: string[];
  /** VMs per node in node order (block distribution: node 0 hosts ranks 0..n0-1, ...). */
  vmsPerNode: number[];
  resourceDefinition: string;
}

export interface NetVm {
  rank: number;
  /** Index among the VMs attached to this network (rank order): drives MAC and address. */
  k: number;
  node: number;
}

export interface JobNetwork {
  net: NetView;
  vms: NetVm[];
  /** Node ranks hosting at least one VM of this network. */
  nodes: number[];
  master: number;
}

export interface NodeFacts {
  /** Underlay address of each node of the job (with host-if-suffix applied), in node order. */
  nodeAddrs: string[];
  /** Link names in use on this node (kernel and recorded), so new names never collide. */
  usedLinkNames: string[];
  /** Reverse-NAT host ports used by other jobs on this node. */
  usedHostPorts: number[];
  /** DNS domain of the host, for the default `pcocc.<domain>`. */
  hostDomain: string;
  /** /run/pcocc */
  runDir: string;
  /** Account dnsmasq drops to after start-up (default: `nobody`, dnsmasq's own default). */
  dnsmasqUser?: string;
}

export interface NetAllocation {
  /** 0 for a network without tunnel (nat). */
  vni: number;
  extIds: number[];
}

export type Step =
  | { kind: "netns"; name: string }
  | { kind: "ops"; netns?: string; ops: NetOp[] }
  | { kind: "ovs-bridge"; bridge: OvsBridgeSpec }
  | { kind: "nft"; netns?: string; doc: unknown }
  /** Root's alone (0600), or only `owner`'s (0400): the account a daemon reads it as. */
  | { kind: "file"; path: string; content: string; owner?: string }
  | { kind: "daemon"; netns: string; argv: string[]; pidFile: string };

/** Everything a job made on a node; `delete` and `cleanup` remove exactly this. */
export interface JobRecord {
  jobId: number;
  nodeRank: number;
  user: string;
  dir: string;
  links: string[];
  netns: string[];
  bridges: string[];
  nftTables: string[];
  pidFiles: string[];
  hostPorts: number[];
  /** Device group of every link made in the node's namespace (removed in one request). */
  linkGroup: number;
  /** Allocator ids owned by this node's part of the job (freed by this node). */
  extIds: Record<string, number[]>;
  /** VNIs allocated by this node as master of the network. */
  vnis: Record<string, number>;
  /** Keys written to etcd (relative to the job's cluster prefix). */
  keys: string[];
}

/** The record format is the keystore's: the hypervisor reads it back through the same schema. */
export type { VmNic };

export interface NodePlan {
  record: JobRecord;
  steps: Step[];
  /** `/pcocc/cluster/<jobid>/<net>/<node_rank>` values: `{ "vm-<rank>": VmNic, global: {...} }`. */
  published: Record<string, NodeNetRecord>;
  /** `/pcocc/cluster/<jobid>/rnat/<rank>/<vm_port>` = host port. */
  rnat: Array<{ rank: number; vmPort: number; hostPort: number }>;
}

/** What the planners of one network (of one segment of a `nat` network) on this node share. */
export interface NetContext {
  job: JobSpec;
  /** The segment: the whole network, or for `nat` one VM of it alone on this node. */
  jn: JobNetwork;
  /** Names this segment's namespaces and files, unique in the job on this node. */
  tag: string;
  addr: Addressing;
  /** This node's VMs on the network. */
  local: NetVm[];
  alloc: NetAllocation;
  record: JobRecord;
  /** The network's OVS bridge on this node. */
  bridge: string;
  /** A free link name of that kind for this network (see NetView.linkBase), recorded in the job's record. */
  newLink: (kind: LinkKind) => string;
}

/** A planner's share of the node's namespace and of the job's bridge. */
export interface BridgePart {
  rootOps: NetOp[];
  ports: OvsPortSpec[];
}

/** A local VM and its tap. */
export interface VmTap {
  vm: NetVm;
  tap: string;
}

export function jobDir(runDir: string, jobId: number): string {
  return `${runDir}/job-${jobId}`;
}

export function jobTable(jobId: number): string {
  return `pcocc_j${jobId}`;
}
