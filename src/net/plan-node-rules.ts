import type { PcoccConfig } from "../config/index.js";
import { extIp, subnet, type Subnet } from "./addressing.js";
import { netViews } from "./net-view.js";
import { addRule, IP_DADDR, IP_SADDR, L4_PORTS, match, prefixOf, UNPRIVILEGED_PORTS } from "./nft-expr.js";
import { VXLAN_PORT } from "./plan-tunnel.js";

/** The node-level nftables table (`setup init`), and the name of each router namespace's own table. */
export const NODE_TABLE = "pcocc";

/** A job's table on the node: input guards of its tunnels, reverse-NAT DNAT of its host ports. */
export function jobRuleset(table: string, inputRules: unknown[][], natRules: unknown[][]): unknown {
  const t = { family: "ip", table };
  const rule = addRule(t);
  const cmds: unknown[] = [{ add: { table: { family: "ip", name: table } } }];
  if (inputRules.length > 0) {
    cmds.push({
      add: { chain: { ...t, name: "input", type: "filter", hook: "input", prio: -10, policy: "accept" } },
    });
    for (const r of inputRules) cmds.push(rule("input", r));
  }
  if (natRules.length > 0) {
    cmds.push({
      add: {
        chain: { ...t, name: "prerouting", type: "nat", hook: "prerouting", prio: -100, policy: "accept" },
      },
    });
    cmds.push({
      add: { chain: { ...t, name: "output", type: "nat", hook: "output", prio: -100, policy: "accept" } },
    });
    for (const r of natRules) cmds.push(rule("prerouting", r), rule("output", r));
  }
  return { nftables: cmds };
}

/**
 * Node-level objects (`setup init`): forwarding policy and masquerade of every L3 network, the guard
 * that keeps VMs off the node's own services, and the one that keeps VXLAN to the node's tunnels.
 */
export function planInit(config: PcoccConfig): { doc: unknown; forwarding: boolean } {
  const t = { family: "ip", table: NODE_TABLE };
  const chain = (name: string, type: string, hook: string, prio: number): unknown => ({
    add: { chain: { ...t, name, type, hook, prio, policy: "accept" } },
  });
  const cmds: unknown[] = [
    { add: { table: { family: "ip", name: NODE_TABLE } } },
    { delete: { table: { family: "ip", name: NODE_TABLE } } },
    { add: { table: { family: "ip", name: NODE_TABLE } } },
    chain("forward", "filter", "forward", 0),
    chain("postrouting", "nat", "postrouting", 100),
    chain("input", "filter", "input", 0),
    chain("output", "filter", "output", 0),
    // Only the node's own tunnel endpoints (kernel sockets, no owning user) send VXLAN: a local user's
    // datagram to a peer's VXLAN port is dropped here (peers also drop it by its unprivileged source port).
    addRule(t)("output", [
      match({ payload: { protocol: "udp", field: "dport" } }, VXLAN_PORT),
      match({ meta: { key: "skuid" } }, 0, "!="),
      { counter: null },
      { drop: null },
    ]),
  ];
  const l3 = netViews(config.networks).filter((n) => n.settings["network-layer"] === "L3");
  const exts = l3.map((n) => subnet(n.settings["ext-network"], `ext-network of ${n.name}`));
  const forwarding = l3.some((n) => n.settings["manage-ip-forward"]);
  l3.forEach((n, i) => cmds.push(...externalNetworkRules(exts[i]!, exts, n.settings["allow-outbound"])));
  return { doc: { nftables: cmds }, forwarding };
}

const prefixExpr = (s: Subnet): unknown => prefixOf(s, extIp(s, -1));

/**
 * What the node does with the traffic of one L3 network's external addresses (its VMs, NATed by routers);
 * `all` are the external networks of every L3 network (ethernet and nat).
 */
function externalNetworkRules(ext: Subnet, all: Subnet[], outbound: string | undefined): unknown[] {
  const rule = addRule({ family: "ip", table: NODE_TABLE });
  const e = prefixExpr(ext);
  const fromVm = match(IP_SADDR, e);
  const leaving = [fromVm, match(IP_DADDR, e, "!=")];
  const others = all
    .filter((s, i) => all.findIndex((o) => o.base === s.base && o.prefix === s.prefix) === i)
    .map(prefixExpr);
  return [
    // A VM's root is the job's user: nothing on the node (slurmd, sshd, any listener on any of its
    // addresses) is theirs to reach. Replies to connections the node opened (pcocc ssh on the node) pass.
    rule("input", [
      fromVm,
      match({ ct: { key: "state" } }, ["established", "related"], "in"),
      { accept: null },
    ]),
    rule("input", [fromVm, { counter: null }, { drop: null }]),
    // No job reaches another job's external addresses (rnat from a VM to another job's VM included),
    // whichever L3 network either is on.
    ...others.map((o) => rule("forward", [fromVm, match(IP_DADDR, o), { drop: null }])),
    // Nor another node's tunnel endpoint (that is the node's, see the output chain).
    rule("forward", [
      fromVm,
      match({ payload: { protocol: "udp", field: "dport" } }, VXLAN_PORT),
      { counter: null },
      { drop: null },
    ]),
    ...(outbound === "none"
      ? [rule("forward", [fromVm, match({ ct: { key: "state" } }, "new", "in"), { drop: null }])]
      : []),
    // Never a privileged source port: outside, "port < 1024" means "root on this node" (NFSv3 sec=sys).
    rule("postrouting", [...leaving, L4_PORTS, { masquerade: { port: UNPRIVILEGED_PORTS } }]),
    rule("postrouting", [...leaving, { masquerade: null }]),
  ];
}

export function planCleanupTables(): unknown {
  return {
    nftables: [
      { add: { table: { family: "ip", name: NODE_TABLE } } },
      { delete: { table: { family: "ip", name: NODE_TABLE } } },
    ],
  };
}
