/**
 * Per-node network plan of a job: pure functions from (config, job, node facts, allocations) to data.
 * `apply.ts` is the only code that turns a plan into kernel/OVS objects.
 *
 * Design of an `ethernet` network on each node that hosts VMs attached to it:
 *
 *   VM taps ──┐                                   (all ports on one per-job OVS bridge, MAC learning)
 *   tunnel  ──┤ protected   kernel VXLAN device (VNI of the job, flood entries to every peer node) on
 *             │             the netdev datapath; OVS vxlan ports (remote_ip, key) per peer on `system`
 *   router  ──┤ protected   L3 only: veth into the job's router namespace (gateway .255.254, a MAC of
 *             │             its own per node: see routerMac)
 *   dhcp    ──┘             L3 master node only: veth into the DHCP/DNS namespace (.255.253, ff:ff:fd)
 *
 * - L2 isolation: one bridge and one VNI per job network; VXLAN from any address but the job's peer
 *   nodes, or from a source port outside the tunnel devices' privileged range, is dropped (nftables, by
 *   VNI, source and source port) and OVS vxlan ports only accept their remote_ip. Local users' sockets
 *   and VMs cannot send to the VXLAN port at all (node output/forward chains, planInit).
 * - Protected ports never talk to each other: no tunnel-to-tunnel forwarding (split horizon, so the full
 *   mesh cannot loop) and every node's router only serves its local VMs. Routers on all nodes share the
 *   gateway address but not their MAC, so a remote router's frames never move the local gateway's
 *   MAC-table entry onto the tunnel port; each router answers ARP only on its own node.
 * - L3: each local VM gets a cluster-wide unique external address (ext-network, from the etcd
 *   allocator). The router namespace does 1:1 NAT int↔ext and forwards to the host over a point-to-point
 *   veth (host side holds the ext gateway address, host routes ext/32 to it). The host masquerades ext
 *   traffic to the outside from unprivileged ports only, drops ext→ext traffic, so two jobs never reach
 *   each other, and drops ext→node (the node's own services), replies to the node's connections aside. Reverse NAT:
 *   a per-node host port DNATs to the VM's ext address and vm-port, which the router maps to the VM.
 * - dnsmasq (one per job per L3 network, master node) answers DHCP with the planned address
 *   (`mac,ip,vmN.<domain>`) and DNS for `vmN.<domain>`; it is exec'd with argv in its namespace.
 * - Everything is named from free indices on this node and recorded (`JobRecord`) before it is made.
 * - pcocc's `pv` and `nat` are built as ethernet networks (see ./net-view.ts); a `nat` network is one
 *   single-VM segment (bridge, tap, router, DHCP/DNS; no tunnel) per VM, on the VM's node.
 */
import type { PcoccConfig } from "../config/index.js";
import { parseResourceDefinition } from "../cluster/index.js";
import { netRecordSubKey, rnatSubKey, type NodeNetRecord } from "../keystore/index.js";
import { PcoccError } from "../util/index.js";
import { addressing } from "./addressing.js";
import { netView, type LinkKind, type NetView } from "./net-view.js";
import { planDhcpDns } from "./plan-dhcp.js";
import { jobRuleset } from "./plan-node-rules.js";
import { planReverseNat, planRouter, type ReverseNatPart, type RouterPart } from "./plan-router.js";
import { planTunnel } from "./plan-tunnel.js";
import {
  jobDir,
  jobTable,
  type BridgePart,
  type JobNetwork,
  type JobRecord,
  type JobSpec,
  type NetAllocation,
  type NetContext,
  type NetVm,
  type NodeFacts,
  type NodePlan,
  type Step,
  type VmTap,
} from "./plan-types.js";

export type {
  JobNetwork,
  JobRecord,
  JobSpec,
  NetAllocation,
  NetVm,
  NodeFacts,
  NodePlan,
  Step,
  VmNic,
} from "./plan-types.js";
export { jobDir } from "./plan-types.js";
export { planCleanupTables, planInit } from "./plan-node-rules.js";

/** VNIs handed out are 1024 + allocator id, as in pcocc (ids 0..64511). */
export const VNI_BASE = 1024;
export const VNI_IDS = 65536 - VNI_BASE;
export const VNI_ALLOC_PATH = "net/type/ethernet/key_alloc_state";
export const EXTIP_ALLOC_PATH = "net/type/ethernet/natip_alloc_state";

/** Which networks of the job involve which VMs and nodes (same answer on every node). */
export function jobNetworks(config: PcoccConfig, job: JobSpec): JobNetwork[] {
  const requests = parseResourceDefinition(job.resourceDefinition);
  const total = requests.reduce((a, r) => a + r.count, 0);
  const placed = job.vmsPerNode.reduce((a, n) => a + n, 0);
  if (placed !== total)
    throw new PcoccError(
      `resource definition has ${total} VMs but the job places ${placed} tasks on its nodes`,
    );
  const nodeOf: number[] = [];
  job.vmsPerNode.forEach((n, node) => {
    for (let i = 0; i < n; i++) nodeOf.push(node);
  });
  const byNet = new Map<string, NetVm[]>();
  let rank = 0;
  for (const req of requests) {
    const rset = config.resourceSets[req.resourceSet];
    if (!rset) throw new PcoccError(`unknown resource set '${req.resourceSet}'`);
    for (let i = 0; i < req.count; i++, rank++) {
      for (const name of rset.networks) {
        const list = byNet.get(name) ?? [];
        list.push({ rank, k: list.length, node: nodeOf[rank]! });
        byNet.set(name, list);
      }
    }
  }
  const out: JobNetwork[] = [];
  for (const [name, vms] of byNet) {
    const conf = config.networks[name];
    if (!conf) throw new PcoccError(`resource set network '${name}' is not defined in networks.yaml`);
    const net = netView(conf);
    if (!net)
      throw new PcoccError(`network '${name}': type ${conf.type} is not supported by this pcocc setup`);
    const nodes = [...new Set(vms.map((v) => v.node))].sort((a, b) => a - b);
    out.push({ net, vms, nodes, master: nodes[0]! });
  }
  return out;
}

/** What this node must allocate before planning. */
export function allocationNeeds(
  nets: JobNetwork[],
  nodeRank: number,
): Array<{ net: string; vni: boolean; vniMaster: boolean; here: boolean; extIds: number }> {
  return nets.map((n) => {
    const local = n.vms.filter((v) => v.node === nodeRank).length;
    return {
      net: n.net.name,
      vni: !n.net.fixed,
      vniMaster: n.master === nodeRank,
      here: local > 0,
      extIds: n.net.settings["network-layer"] === "L3" ? local : 0,
    };
  });
}

function freeName(base: string, used: Set<string>): string {
  for (let n = 0; ; n++) {
    const name = `${base}${n}`;
    if (!used.has(name)) {
      if (name.length > 15) throw new PcoccError(`no free interface name with prefix ${base}`);
      used.add(name);
      return name;
    }
  }
}

function domainOf(net: NetView, hostDomain: string): string {
  const d = net.settings["domain-name"] ?? (hostDomain ? `pcocc.${hostDomain}` : "pcocc");
  return d.replace(/\.$/, "");
}

function emptyRecord(job: JobSpec, dir: string): JobRecord {
  return {
    jobId: job.jobId,
    nodeRank: job.nodeRank,
    user: job.user,
    dir,
    links: [],
    netns: [],
    bridges: [],
    nftTables: [],
    pidFiles: [],
    hostPorts: [],
    linkGroup: job.jobId,
    extIds: {},
    vnis: {},
    keys: [],
  };
}

/** What this node makes for the job: every network's part, then the job's own nftables table. */
export function planNode(
  config: PcoccConfig,
  job: JobSpec,
  facts: NodeFacts,
  allocs: Record<string, NetAllocation>,
): NodePlan {
  if (!facts.nodeAddrs[job.nodeRank]) throw new PcoccError(`no address for node rank ${job.nodeRank}`);
  const used = new Set(facts.usedLinkNames);
  const usedPorts = new Set(facts.usedHostPorts);
  const record = emptyRecord(job, jobDir(facts.runDir, job.jobId));
  const plan: NodePlan = { record, steps: [], published: {}, rnat: [] };
  const inputRules: unknown[][] = [];
  const natRules: unknown[][] = [];
  for (const whole of jobNetworks(config, job)) {
    const alloc = allocs[whole.net.name];
    for (const seg of segments(whole, job.nodeRank, alloc)) {
      const newLink = (kind: LinkKind): string => {
        const name = freeName(whole.net.linkBase(kind), used);
        record.links.push(name);
        return name;
      };
      const bridge = freeName(whole.net.linkBase("br"), used);
      record.bridges.push(bridge);
      const ctx = { job, ...seg, addr: addressing(whole.net), record, bridge, newLink };
      const part = planNetwork(ctx, facts, usedPorts);
      plan.steps.push(...part.steps);
      plan.published[whole.net.name] = { ...plan.published[whole.net.name], ...part.published };
      plan.rnat.push(...part.rnat);
      inputRules.push(...part.inputRules);
      natRules.push(...part.natRules);
    }
  }
  if (inputRules.length > 0 || natRules.length > 0) {
    const table = jobTable(job.jobId);
    record.nftTables.push(table);
    plan.steps.push({ kind: "nft", doc: jobRuleset(table, inputRules, natRules) });
  }
  for (const r of plan.rnat) record.keys.push(rnatSubKey(r.rank, r.vmPort));
  for (const n of Object.keys(plan.published)) record.keys.push(netRecordSubKey(n, job.nodeRank));
  return plan;
}

type Segment = Pick<NetContext, "jn" | "tag" | "local" | "alloc">;

/** The parts of a network this node builds: the network, or each local VM of a `nat` network alone. */
function segments(jn: JobNetwork, nodeRank: number, alloc: NetAllocation | undefined): Segment[] {
  const local = jn.vms.filter((v) => v.node === nodeRank);
  if (local.length === 0) return [];
  if (!alloc) throw new PcoccError(`network ${jn.net.name}: no allocation`);
  if (!jn.net.fixed) return [{ jn, tag: jn.net.name, local, alloc }];
  if (alloc.extIds.length !== local.length)
    throw new PcoccError(`network ${jn.net.name}: wrong number of external addresses`);
  return local.map((vm, i) => ({
    jn: { net: jn.net, vms: [vm], nodes: [nodeRank], master: nodeRank },
    tag: `${jn.net.name}_vm${vm.rank}`,
    local: [vm],
    alloc: { vni: 0, extIds: [alloc.extIds[i]!] },
  }));
}

interface NetworkPart {
  steps: Step[];
  published: NodeNetRecord;
  rnat: NodePlan["rnat"];
  inputRules: unknown[][];
  natRules: unknown[][];
}

/** One network on this node: bridge, taps, tunnel and, for L3, router, reverse NAT and DHCP/DNS. */
function planNetwork(ctx: NetContext, facts: NodeFacts, usedPorts: Set<number>): NetworkPart {
  const { jn, job } = ctx;
  const s = jn.net.settings;
  if (jn.master === job.nodeRank && !jn.net.fixed) ctx.record.vnis[jn.net.name] = ctx.alloc.vni;
  const bridge = ctx.bridge;
  const taps = planTaps(ctx);
  const tunnel = planTunnel(ctx, facts.nodeAddrs);
  const domain = domainOf(jn.net, facts.hostDomain);
  const l3 = s["network-layer"] === "L3";
  const router = l3 ? planRouter(ctx, taps.taps) : undefined;
  const rnat = router ? planReverseNat(ctx, taps.taps, router.vmAddrs, usedPorts) : undefined;
  const dhcp =
    router && jn.master === job.nodeRank
      ? planDhcpDns(ctx, router.netns, domain, facts.dnsmasqUser)
      : undefined;
  const parts: BridgePart[] = [taps, tunnel, ...(router ? [router] : []), ...(dhcp ? [dhcp] : [])];
  const steps: Step[] = [
    ...[dhcp?.netns, router?.netns].flatMap((n): Step[] => (n ? [{ kind: "netns", name: n }] : [])),
    { kind: "ops", ops: parts.flatMap((p) => p.rootOps) },
    ...(router?.nsSteps ?? []),
    ...(dhcp?.nsSteps ?? []),
    {
      kind: "ovs-bridge",
      bridge: { name: bridge, datapathType: s["datapath-type"], ports: parts.flatMap((p) => p.ports) },
    },
    ...(dhcp ? [...dhcp.files, dhcp.daemon] : []),
  ];
  return {
    steps,
    published: {
      ...nicRecords(ctx, taps.taps, router, rnat, domain),
      // no VNI here: every user reads this record, and the VNI is root's (the node records keep it);
      // a nat network has no one bridge
      ...(jn.net.fixed ? {} : { global: { int_br_name: bridge, master: jn.master } }),
    },
    rnat: rnat?.rnat ?? [],
    inputRules: tunnel.inputRules,
    natRules: rnat?.natRules ?? [],
  };
}

/** One tap per local VM, owned by the job's user (QEMU opens it as the user). */
function planTaps(ctx: NetContext): BridgePart & { taps: VmTap[] } {
  const part: BridgePart & { taps: VmTap[] } = { rootOps: [], ports: [], taps: [] };
  const { job } = ctx;
  for (const vm of ctx.local) {
    const tap = ctx.newLink("tap");
    part.rootOps.push({
      op: "tapAdd",
      name: tap,
      uid: job.uid,
      gid: job.gid,
      mtu: ctx.jn.net.settings.mtu,
      up: true,
      group: job.jobId,
    });
    part.ports.push({ name: tap, type: "" });
    part.taps.push({ vm, tap });
  }
  return part;
}

/** The `vm-<rank>` entries the hypervisors read: tap, MAC and, for L3, addresses and host port. */
function nicRecords(
  ctx: NetContext,
  taps: VmTap[],
  router: RouterPart | undefined,
  rnat: ReverseNatPart | undefined,
  domain: string,
): NodeNetRecord {
  const s = ctx.jn.net.settings;
  const out: NodeNetRecord = {};
  taps.forEach(({ vm, tap }, i) => {
    const mac = ctx.addr.vmMac(vm.k);
    out[`vm-${vm.rank}`] = router
      ? {
          tap,
          mac,
          ip: router.vmAddrs[i]!.int,
          "ext-ip": router.vmAddrs[i]!.ext,
          ...(s["reverse-nat"] ? { hostPort: rnat!.hostPorts[i] } : {}),
          "domain-name": domain,
        }
      : { tap, mac };
  });
  return out;
}
