import { parseCidr, parseIPv4 } from "../config/index.js";
import { PcoccError } from "../util/index.js";
import type { NetView } from "./net-view.js";

/** pcocc's addressing on an ethernet network; pure. */

function ipToString(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

export interface Subnet {
  base: number;
  prefix: number;
  size: number;
}

export function subnet(cidr: string, what: string): Subnet {
  const c = parseCidr(cidr);
  if (!c) throw new PcoccError(`invalid ${what} ${cidr}`);
  return { base: c.address, prefix: c.prefix, size: 2 ** (32 - c.prefix) };
}

/** The k-th VM of a network (rank order among the VMs attached to it): vm0 gets the first address. */
export function vmIp(net: Subnet, k: number): string {
  if (k + 1 >= net.size - 3) throw new PcoccError(`too many VMs for a /${net.prefix} network`);
  return ipToString(net.base + k + 1);
}

/** Reserved near the top of the int network: virtual gateway (.254) and DHCP/DNS (.253). */
export const gatewayIp = (net: Subnet): string => ipToString(net.base + net.size - 2);
export const dnsIp = (net: Subnet): string => ipToString(net.base + net.size - 3);
/** Address ids of the ext network are 0..size-3; id i is base+i+1 and base+size-2 is the host side. */
export const extIp = (net: Subnet, id: number): string => ipToString(net.base + id + 1);
export const extGatewayIp = (net: Subnet): string => ipToString(net.base + net.size - 2);
export const extIdCount = (net: Subnet): number => net.size - 2;
export const networkIp = (net: Subnet): string => ipToString(net.base);

export function netmask(prefix: number): string {
  return ipToString(prefix === 0 ? 0 : (2 ** 32 - 2 ** (32 - prefix)) >>> 0);
}

/** `<mac-prefix>:` + (k + offset) in the remaining bytes (vm0 → 52:54:00:00:00:00). */
export function vmMac(prefix: string, k: number): string {
  const head = prefix.toLowerCase().split(":");
  const tailBytes = 6 - head.length;
  if (k >= 2 ** (8 * tailBytes) - 3 - MAX_ROUTER_NODES)
    throw new PcoccError(`MAC prefix ${prefix} has no room for VM ${k}`);
  return vmMacUnchecked(head, tailBytes, k);
}

/**
 * Each node of a job has its own router behind the shared gateway address, and each needs its own MAC:
 * with one MAC for all, a remote router's frames arriving over the tunnel teach the bridge that the
 * gateway lives on the tunnel port, and local VMs' replies go to the wrong node. The top of the prefix's
 * space is reserved for them (and DHCP/DNS), which bounds the nodes of one job on one network.
 */
export const MAX_ROUTER_NODES = 1024;

/** The router of node rank 0 keeps pcocc's ff:ff:fe; the others count down below the DHCP/DNS ff:ff:fd. */
export function routerMac(prefix: string, nodeRank: number): string {
  if (nodeRank === 0) return reservedMac(prefix, "fe");
  if (!Number.isInteger(nodeRank) || nodeRank < 0 || nodeRank >= MAX_ROUTER_NODES)
    throw new PcoccError(`a job network spans at most ${MAX_ROUTER_NODES} nodes (node rank ${nodeRank})`);
  const head = prefix.toLowerCase().split(":");
  const tailBytes = 6 - head.length;
  return vmMacUnchecked(head, tailBytes, 2 ** (8 * tailBytes) - 3 - nodeRank);
}

function vmMacUnchecked(head: string[], tailBytes: number, value: number): string {
  const tail: string[] = [];
  for (let i = tailBytes - 1; i >= 0; i--)
    tail.push((Math.floor(value / 2 ** (8 * i)) % 256).toString(16).padStart(2, "0"));
  return [...head, ...tail].join(":");
}

/** Reserved MACs at the top of the prefix's space: ff:ff:fe virtual gateway, ff:ff:fd DHCP/DNS. */
export function reservedMac(prefix: string, last: string): string {
  const head = prefix.toLowerCase().split(":");
  const tail: string[] = [];
  for (let i = head.length; i < 6; i++) tail.push(i === 5 ? last : "ff");
  return [...head, ...tail].join(":");
}

/** Who has which address and MAC on one segment of a network (what the VMs and their DHCP see). */
export interface Addressing {
  int: Subnet;
  /** The k-th VM of the network. */
  vmIp: (k: number) => string;
  vmMac: (k: number) => string;
  gateway: string;
  /** The router of each node of the job. */
  gatewayMac: (nodeRank: number) => string;
  /** DHCP/DNS server. */
  dns: string;
  dnsMac: string;
}

export function addressing(view: NetView): Addressing {
  const s = view.settings;
  const int = subnet(s["int-network"], `int-network of ${view.name}`);
  const f = view.fixed;
  if (!f)
    return {
      int,
      vmIp: (k) => vmIp(int, k),
      vmMac: (k) => vmMac(s["mac-prefix"], k + s["mac-start-offset"]),
      gateway: gatewayIp(int),
      gatewayMac: (nodeRank) => routerMac(s["mac-prefix"], nodeRank),
      dns: dnsIp(int),
      dnsMac: reservedMac(s["mac-prefix"], "fd"),
    };
  // Each segment holds one VM and one router: the server takes the highest address and a MAC left free.
  const taken = new Set([parseIPv4(f.ip), parseIPv4(f.gateway)]);
  let dns = int.base + int.size - 2;
  while (taken.has(dns)) dns--;
  const dnsMac = ["fd", "fc", "fb"]
    .map((last) => reservedMac(f.gatewayMac.slice(0, 8), last))
    .find((m) => m !== f.mac && m !== f.gatewayMac)!;
  return {
    int,
    vmIp: () => f.ip,
    vmMac: () => f.mac,
    gateway: f.gateway,
    gatewayMac: () => f.gatewayMac,
    dns: ipToString(dns),
    dnsMac,
  };
}
