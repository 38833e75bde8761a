import { PcoccError } from "../util/index.js";
import { extGatewayIp, extIp, subnet } from "./addressing.js";
import type { NetOp } from "./native.js";
import { addRule, IP_DADDR, IP_SADDR, L4_PORTS, match, UNPRIVILEGED_PORTS } from "./nft-expr.js";
import { NODE_TABLE } from "./plan-node-rules.js";
import type { BridgePart, NetContext, NodePlan, Step, VmTap } from "./plan-types.js";

const ROUTER_INT = "int0";
const ROUTER_EXT = "ext0";

export interface VmAddrs {
  int: string;
  ext: string;
}

export interface RouterPart extends BridgePart {
  netns: string;
  /** Steps inside the router namespace (after the root ops made its links). */
  nsSteps: Step[];
  /** Private and external address of each local VM, in tap order. */
  vmAddrs: VmAddrs[];
}

/** Namespaces feeding the userspace datapath must send finished checksums (see native.ts). */
export function csumOffOps(ctx: NetContext, dev: string): NetOp[] {
  return ctx.jn.net.settings["datapath-type"] === "netdev" ? [{ op: "txCsumOff", name: dev }] : [];
}

export function routerNetns(ctx: NetContext): string {
  return `pcocc_j${ctx.job.jobId}n${ctx.job.nodeRank}_${ctx.tag}`;
}

/**
 * The L3 router of this node: a namespace on the bridge (gateway address, a MAC of its own per node) that
 * 1:1-NATs each local VM to its external address, joined to the host by a point-to-point veth.
 */
export function planRouter(ctx: NetContext, taps: VmTap[]): RouterPart {
  const s = ctx.jn.net.settings;
  const name = ctx.jn.net.name;
  const { int, ...addr } = ctx.addr;
  const ext = subnet(s["ext-network"], `ext-network of ${name}`);
  const extGw = extGatewayIp(ext);
  if (ctx.alloc.extIds.length !== ctx.local.length)
    throw new PcoccError(`network ${name}: wrong number of external addresses`);
  (ctx.record.extIds[name] ??= []).push(...ctx.alloc.extIds);
  const netns = routerNetns(ctx);
  ctx.record.netns.push(netns);
  const vg = ctx.newLink("vg");
  const vu = ctx.newLink("vu");
  const veth = (dev: string, peer: string): NetOp => ({
    op: "linkAdd",
    kind: "veth",
    name: dev,
    peer,
    peerNetns: `/run/netns/${netns}`,
    mtu: s.mtu,
    up: true,
    group: ctx.job.jobId,
  });
  const rootOps: NetOp[] = [
    veth(vg, ROUTER_INT),
    veth(vu, ROUTER_EXT),
    { op: "addrAdd", dev: vu, address: `${extGw}/32` },
  ];
  const vmAddrs = taps.map(({ vm }, i): VmAddrs => {
    const e = extIp(ext, ctx.alloc.extIds[i]!);
    rootOps.push({ op: "routeAdd", dst: `${e}/32`, dev: vu });
    return { int: addr.vmIp(vm.k), ext: e };
  });
  const routerOps: NetOp[] = [
    { op: "linkSet", name: "lo", up: true },
    { op: "linkSet", name: ROUTER_INT, mac: addr.gatewayMac(ctx.job.nodeRank), up: true },
    { op: "addrAdd", dev: ROUTER_INT, address: `${addr.gateway}/${int.prefix}` },
    ...csumOffOps(ctx, ROUTER_INT),
    { op: "linkSet", name: ROUTER_EXT, up: true },
    ...vmAddrs.map((a): NetOp => ({ op: "addrAdd", dev: ROUTER_EXT, address: `${a.ext}/32` })),
    { op: "routeAdd", dst: "default", via: extGw, dev: ROUTER_EXT, onlink: true },
    { op: "sysctl", path: "/proc/sys/net/ipv4/ip_forward", value: "1" },
  ];
  const nsSteps: Step[] = [
    { kind: "ops", netns, ops: routerOps },
    { kind: "nft", netns, doc: routerRuleset(vmAddrs, s["reverse-nat"]?.["vm-port"]) },
  ];
  return { rootOps, ports: [{ name: vg, type: "", protected: true }], netns, nsSteps, vmAddrs };
}

export interface ReverseNatPart {
  rnat: NodePlan["rnat"];
  /** Node NAT rules: host port → the VM's external address and vm-port. */
  natRules: unknown[][];
  /** Host port of each local VM, in tap order. */
  hostPorts: number[];
}

/** One free host port per local VM (`reverse-nat`), DNATed to the VM's vm-port through its router. */
export function planReverseNat(
  ctx: NetContext,
  taps: VmTap[],
  vmAddrs: VmAddrs[],
  usedPorts: Set<number>,
): ReverseNatPart {
  const part: ReverseNatPart = { rnat: [], natRules: [], hostPorts: [] };
  const cfg = ctx.jn.net.settings["reverse-nat"];
  if (!cfg) return part;
  taps.forEach(({ vm }, i) => {
    let port = cfg["min-host-port"];
    while (usedPorts.has(port)) port++;
    if (port > cfg["max-host-port"])
      throw new PcoccError(`network ${ctx.jn.net.name}: no free reverse NAT host port left on this node`);
    usedPorts.add(port);
    ctx.record.hostPorts.push(port);
    part.hostPorts.push(port);
    part.rnat.push({ rank: vm.rank, vmPort: cfg["vm-port"], hostPort: port });
    part.natRules.push([
      match({ fib: { result: "type", flags: ["daddr"] } }, "local"),
      match(IP_DADDR, { prefix: { addr: "127.0.0.0", len: 8 } }, "!="),
      match({ payload: { protocol: "tcp", field: "dport" } }, port),
      { dnat: { addr: vmAddrs[i]!.ext, port: cfg["vm-port"] } },
    ]);
  });
  return part;
}

function routerRuleset(vms: VmAddrs[], vmPort: number | undefined): unknown {
  const t = { family: "ip", table: NODE_TABLE };
  const fromExt = match({ meta: { key: "iifname" } }, ROUTER_EXT);
  const toExt = match({ meta: { key: "oifname" } }, ROUTER_EXT);
  const rule = addRule(t);
  const fromExtAccept = (m: unknown): unknown => rule("fwd", [fromExt, m, { accept: null }]);
  return {
    nftables: [
      { add: { table: { family: "ip", name: NODE_TABLE } } },
      {
        add: { chain: { ...t, name: "pre", type: "nat", hook: "prerouting", prio: -100, policy: "accept" } },
      },
      {
        add: { chain: { ...t, name: "post", type: "nat", hook: "postrouting", prio: 100, policy: "accept" } },
      },
      { add: { chain: { ...t, name: "fwd", type: "filter", hook: "forward", prio: 0, policy: "accept" } } },
      ...vms.map((v) => rule("pre", [fromExt, match(IP_DADDR, v.ext), { dnat: { addr: v.int } }])),
      // Privileged source ports stay inside the job here too (the node's masquerade also remaps them).
      ...vms.flatMap((v) => [
        rule("post", [
          toExt,
          match(IP_SADDR, v.int),
          L4_PORTS,
          { snat: { addr: v.ext, port: UNPRIVILEGED_PORTS } },
        ]),
        rule("post", [toExt, match(IP_SADDR, v.int), { snat: { addr: v.ext } }]),
      ]),
      // Other sources of the private network (the DNS forwarder) share the router's first address.
      rule("post", [toExt, L4_PORTS, { masquerade: { port: UNPRIVILEGED_PORTS } }]),
      rule("post", [toExt, { masquerade: null }]),
      fromExtAccept(match({ ct: { key: "state" } }, ["established", "related"], "in")),
      ...(vmPort === undefined
        ? []
        : [fromExtAccept(match({ payload: { protocol: "tcp", field: "dport" } }, vmPort))]),
      fromExtAccept(match({ payload: { protocol: "icmp", field: "type" } }, "echo-request")),
      rule("fwd", [fromExt, { drop: null }]),
    ],
  };
}
