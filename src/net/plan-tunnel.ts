import { PcoccError } from "../util/index.js";
import { IP_SADDR, match } from "./nft-expr.js";
import type { BridgePart, NetContext } from "./plan-types.js";

export const VXLAN_PORT = 4789;
/**
 * Source ports of the job's kernel VXLAN devices: privileged, so no unprivileged process can send a
 * datagram that passes for one (VM traffic is NATed to ports >= 1024 as well), and peers accept no other.
 */
export const VXLAN_SRC_PORTS: [number, number] = [512, 1023];

export interface TunnelPart extends BridgePart {
  /** Node input-chain rules guarding this network's VNI. */
  inputRules: unknown[][];
}

/** The network's tunnel to the peer nodes that host its other VMs (none for a single-node network). */
export function planTunnel(ctx: NetContext, nodeAddrs: string[]): TunnelPart {
  const part: TunnelPart = { rootOps: [], ports: [], inputRules: [] };
  const peers = ctx.jn.nodes.filter((n) => n !== ctx.job.nodeRank);
  if (peers.length === 0) return part;
  const localAddr = nodeAddrs[ctx.job.nodeRank]!;
  const peerAddrs = peers.map((n) => {
    const a = nodeAddrs[n];
    if (!a) throw new PcoccError(`no address for node rank ${n}`);
    return a;
  });
  const s = ctx.jn.net.settings;
  if (s["datapath-type"] !== "netdev") {
    peers.forEach((n, i) =>
      part.ports.push({
        name: `${ctx.bridge}_${n}`,
        type: "vxlan",
        options: { remote_ip: peerAddrs[i]!, key: String(ctx.alloc.vni), local_ip: localAddr },
        protected: true,
      }),
    );
    return part;
  }
  // The userspace datapath cannot terminate tunnels unless the underlay NIC itself is an OVS port:
  // a kernel VXLAN device, attached as a plain port, does it without touching the node's uplink.
  const vx = ctx.newLink("vx");
  part.rootOps.push({
    op: "linkAdd",
    kind: "vxlan",
    name: vx,
    vni: ctx.alloc.vni,
    local: localAddr,
    port: VXLAN_PORT,
    srcPortMin: VXLAN_SRC_PORTS[0],
    srcPortMax: VXLAN_SRC_PORTS[1],
    mtu: s.mtu,
    up: true,
    group: ctx.job.jobId,
  });
  for (const a of peerAddrs) part.rootOps.push({ op: "fdbAppend", name: vx, dst: a });
  part.ports.push({ name: vx, type: "", protected: true });
  const thisVni = [
    match({ payload: { protocol: "udp", field: "dport" } }, VXLAN_PORT),
    match({ payload: { base: "th", offset: 96, len: 24 } }, ctx.alloc.vni),
  ];
  // Frames of this VNI come from a peer node's tunnel device only: its address and its source ports.
  part.inputRules.push(
    [...thisVni, match(IP_SADDR, { set: peerAddrs }, "!="), { counter: null }, { drop: null }],
    [
      ...thisVni,
      match({ payload: { protocol: "udp", field: "sport" } }, { range: VXLAN_SRC_PORTS }, "!="),
      { counter: null },
      { drop: null },
    ],
  );
  return part;
}
