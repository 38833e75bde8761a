import type { Subnet } from "./addressing.js";

/** Small builders of libnftables JSON expressions shared by the rulesets pcocc writes. */

export const IP_DADDR = { payload: { protocol: "ip", field: "daddr" } };
export const IP_SADDR = { payload: { protocol: "ip", field: "saddr" } };

export const match = (left: unknown, right: unknown, op = "=="): unknown => ({ match: { op, left, right } });

export const prefixOf = (s: Subnet, str: string): unknown => ({ prefix: { addr: str, len: s.prefix } });

/** `add rule <family> <table> <chain> <expr>` */
export const addRule =
  (table: { family: string; table: string }) =>
  (chain: string, expr: unknown[]): unknown => ({ add: { rule: { ...table, chain, expr } } });

/** `meta l4proto { tcp, udp }`: NAT may only pick ports for these (nft requires the match first). */
export const L4_PORTS = match({ meta: { key: "l4proto" } }, { set: ["tcp", "udp"] });

/** Source ports NAT hands out to VM traffic: never a privileged one. */
export const UNPRIVILEGED_PORTS = { range: [1024, 65535] };
