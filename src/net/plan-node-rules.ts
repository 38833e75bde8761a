import type { PcoccConfig } from "../config/index.js";
import { extIp, subnet } from "./addressing.js";
import { addRule, IP_DADDR, IP_SADDR, match, prefixOf } from "./nft-expr.js";

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

/** Node-level objects of every L3 network (`setup init`): forwarding policy and masquerade. */
export function planInit(config: PcoccConfig): { doc: unknown; forwarding: boolean } {
  const t = { family: "ip", table: NODE_TABLE };
  const cmds: unknown[] = [
    { add: { table: { family: "ip", name: NODE_TABLE } } },
    { delete: { table: { family: "ip", name: NODE_TABLE } } },
    { add: { table: { family: "ip", name: NODE_TABLE } } },
    { add: { chain: { ...t, name: "forward", type: "filter", hook: "forward", prio: 0, policy: "accept" } } },
    {
      add: {
        chain: { ...t, name: "postrouting", type: "nat", hook: "postrouting", prio: 100, policy: "accept" },
      },
    },
  ];
  let forwarding = false;
  const rule = addRule(t);
  for (const net of Object.values(config.networks)) {
    if (net.type !== "ethernet" || net.settings["network-layer"] !== "L3") continue;
    const ext = subnet(net.settings["ext-network"], `ext-network of ${net.name}`);
    const e = prefixOf(ext, extIp(ext, -1));
    if (net.settings["manage-ip-forward"]) forwarding = true;
    // No job reaches another job's external addresses (rnat from a VM to another job's VM included).
    cmds.push(rule("forward", [match(IP_SADDR, e), match(IP_DADDR, e), { drop: null }]));
    if (net.settings["allow-outbound"] === "none")
      cmds.push(
        rule("forward", [match(IP_SADDR, e), match({ ct: { key: "state" } }, "new", "in"), { drop: null }]),
      );
    cmds.push(rule("postrouting", [match(IP_SADDR, e), match(IP_DADDR, e, "!="), { masquerade: null }]));
  }
  return { doc: { nftables: cmds }, forwarding };
}

export function planCleanupTables(): unknown {
  return {
    nftables: [
      { add: { table: { family: "ip", name: NODE_TABLE } } },
      { delete: { table: { family: "ip", name: NODE_TABLE } } },
    ],
  };
}
