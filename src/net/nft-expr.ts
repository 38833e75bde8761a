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
