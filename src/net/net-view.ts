import { defaultEthernetSettings, type EthernetSettings, type NetworkConfig } from "../config/index.js";

/**
 * How a configured network is built: every buildable type is an `ethernet` network to the planners.
 * - `pv` (pcocc's deprecated private network) is an L2 ethernet network: a bridge per job and node,
 *   taps, the job's VXLAN between its nodes, no address, DHCP or NAT; pcocc's bridge-prefix/tap-prefix
 *   names.
 * - `nat` (pcocc's deprecated NAT network) gives every VM the same private network (vm-ip, gateway
 *   vm-network-gw, MAC vm-hwaddr, DHCP/DNS), NATed to an address of its own in nat-network: an L3
 *   ethernet network cut into one segment per VM (its own bridge, router and DHCP on its node, no
 *   tunnel), so that VMs which share a MAC and an address never share a wire.
 */

/** Kinds of links a job makes on a node; `br` names its OVS bridges. */
export type LinkKind = "tap" | "vx" | "vg" | "vu" | "vd" | "br";
export const LINK_KINDS: readonly LinkKind[] = ["tap", "vx", "vg", "vu", "vd", "br"];

/** What each VM of a `nat` network sees, the same for all. */
export interface FixedVmAddress {
  ip: string;
  mac: string;
  gateway: string;
  gatewayMac: string;
}

export interface NetView {
  name: string;
  type: "ethernet" | "pv" | "nat";
  /** The ethernet settings this network amounts to. */
  settings: EthernetSettings;
  /** Names of this network's links of a kind are this plus a free index. */
  linkBase: (kind: LinkKind) => string;
  /** `nat`: one segment per VM, each with these addresses. */
  fixed?: FixedVmAddress;
}

/** The network as the planners build it; undefined for types this installation cannot build. */
export function netView(net: NetworkConfig): NetView | undefined {
  switch (net.type) {
    case "ethernet": {
      const dev = net.settings["dev-prefix"];
      return { name: net.name, type: "ethernet", settings: net.settings, linkBase: (k) => `${dev}_${k}` };
    }
    case "pv": {
      const s = net.settings;
      return {
        name: net.name,
        type: "pv",
        settings: {
          ...defaultEthernetSettings(s["tap-prefix"]),
          "network-layer": "L2",
          "mac-prefix": s["mac-prefix"],
          "host-if-suffix": s["host-if-suffix"],
          mtu: s.mtu,
          "datapath-type": s["datapath-type"],
        },
        linkBase: legacyNames(s["bridge-prefix"], s["tap-prefix"]),
      };
    }
    case "nat": {
      const s = net.settings;
      return {
        name: net.name,
        type: "nat",
        // pcocc's nat managed ip_forward, as an L3 ethernet network does by default
        settings: {
          ...defaultEthernetSettings(s["tap-prefix"]),
          "network-layer": "L3",
          "int-network": s["vm-network"],
          "ext-network": s["nat-network"],
          mtu: s.mtu,
          "domain-name": s["domain-name"],
          "dns-server": s["dns-server"],
          "ntp-server": s["ntp-server"],
          "reverse-nat": s["reverse-nat"],
          "allow-outbound": s["allow-outbound"],
          "datapath-type": s["datapath-type"],
        },
        linkBase: legacyNames(s.bridge, s["tap-prefix"]),
        fixed: {
          ip: s["vm-ip"],
          mac: s["vm-hwaddr"].toLowerCase(),
          gateway: s["vm-network-gw"],
          gatewayMac: s["bridge-hwaddr"].toLowerCase(),
        },
      };
    }
    default:
      return undefined;
  }
}

/** pcocc's names: `<bridge-prefix>N`, `<tap-prefix>N`; the links pcocc did not have, `<tap-prefix>_<kind>N`. */
function legacyNames(bridge: string, tap: string): (kind: LinkKind) => string {
  return (kind) => (kind === "br" ? bridge : kind === "tap" ? tap : `${tap}_${kind}`);
}

/** The buildable networks of a configuration. */
export function netViews(networks: Record<string, NetworkConfig>): NetView[] {
  return Object.values(networks).flatMap((n) => netView(n) ?? []);
}
