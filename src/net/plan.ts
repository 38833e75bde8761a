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
 *   nodes is dropped (nftables, by VNI and source) and OVS vxlan ports only accept their remote_ip.
 * - Protected ports never talk to each other: no tunnel-to-tunnel forwarding (split horizon, so the full
 *   mesh cannot loop) and every node's router only serves its local VMs. Routers on all nodes share the
 *   gateway address but not their MAC, so a remote router's frames never move the local gateway's
 *   MAC-table entry onto the tunnel port; each router answers ARP only on its own node.
 * - L3: each local VM gets a cluster-wide unique external address (ext-network, from the etcd
 *   allocator). The router namespace does 1:1 NAT int↔ext and forwards to the host over a point-to-point
 *   veth (host side holds the ext gateway address, host routes ext/32 to it). The host masquerades ext
 *   traffic to the outside and drops ext→ext traffic, so two jobs never reach each other. Reverse NAT:
 *   a per-node host port DNATs to the VM's ext address and vm-port, which the router maps to the VM.
 * - dnsmasq (one per job per L3 network, master node) answers DHCP with the planned address
 *   (`mac,ip,vmN.<domain>`) and DNS for `vmN.<domain>`; it is exec'd with argv in its namespace.
 * - Everything is named from free indices on this node and recorded (`JobRecord`) before it is made.
 */
import type { EthernetNetworkConfig, PcoccConfig } from "../config/index.js";
import { parseResourceDefinition } from "../cluster/index.js";
import { netRecordSubKey, rnatSubKey, type NodeNetRecord, type VmNic } from "../keystore/index.js";
import { PcoccError } from "../util/index.js";
import {
  dnsIp,
  extGatewayIp,
  extIp,
  gatewayIp,
  netmask,
  reservedMac,
  routerMac,
  subnet,
  vmIp,
  vmMac,
  type Subnet,
} from "./addressing.js";
import type { NetOp } from "./native.js";
import type { OvsBridgeSpec, OvsPortSpec } from "./ovs.js";

export const VXLAN_PORT = 4789;
/** VNIs handed out are 1024 + allocator id, as in pcocc (ids 0..64511). */
export const VNI_BASE = 1024;
export const VNI_IDS = 65536 - VNI_BASE;
export const VNI_ALLOC_PATH = "net/type/ethernet/key_alloc_state";
export const EXTIP_ALLOC_PATH = "net/type/ethernet/natip_alloc_state";
const ROUTER_INT = "int0";
const ROUTER_EXT = "ext0";
const DHCP_INT = "int0";
export const NODE_TABLE = "pcocc";

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
  net: EthernetNetworkConfig;
  vms: NetVm[];
  /** Node ranks hosting at least one VM of this network. */
  nodes: number[];
  master: number;
}

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
    const net = config.networks[name];
    if (!net) throw new PcoccError(`resource set network '${name}' is not defined in networks.yaml`);
    if (net.type !== "ethernet")
      throw new PcoccError(`network '${name}': type ${net.type} is not supported by this pcocc setup`);
    const nodes = [...new Set(vms.map((v) => v.node))].sort((a, b) => a - b);
    out.push({ net, vms, nodes, master: nodes[0]! });
  }
  return out;
}

/** What this node must allocate before planning. */
export function allocationNeeds(
  nets: JobNetwork[],
  nodeRank: number,
): Array<{ net: string; vniMaster: boolean; here: boolean; extIds: number }> {
  return nets.map((n) => {
    const local = n.vms.filter((v) => v.node === nodeRank).length;
    return {
      net: n.net.name,
      vniMaster: n.master === nodeRank,
      here: local > 0,
      extIds: n.net.settings["network-layer"] === "L3" ? local : 0,
    };
  });
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
}

export interface NetAllocation {
  vni: number;
  extIds: number[];
}

export type Step =
  | { kind: "netns"; name: string }
  | { kind: "ops"; netns?: string; ops: NetOp[] }
  | { kind: "ovs-bridge"; bridge: OvsBridgeSpec }
  | { kind: "nft"; netns?: string; doc: unknown }
  | { kind: "file"; path: string; content: string }
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

export function domainOf(net: EthernetNetworkConfig, hostDomain: string): string {
  const d = net.settings["domain-name"] ?? (hostDomain ? `pcocc.${hostDomain}` : "pcocc");
  return d.replace(/\.$/, "");
}

export function jobDir(runDir: string, jobId: number): string {
  return `${runDir}/job-${jobId}`;
}

export function jobTable(jobId: number): string {
  return `pcocc_j${jobId}`;
}

const IP_DADDR = { payload: { protocol: "ip", field: "daddr" } };
const IP_SADDR = { payload: { protocol: "ip", field: "saddr" } };
const match = (left: unknown, right: unknown, op = "=="): unknown => ({ match: { op, left, right } });
const prefixOf = (s: Subnet, str: string): unknown => ({ prefix: { addr: str, len: s.prefix } });

export function planNode(
  config: PcoccConfig,
  job: JobSpec,
  facts: NodeFacts,
  allocs: Record<string, NetAllocation>,
): NodePlan {
  const nets = jobNetworks(config, job);
  const used = new Set(facts.usedLinkNames);
  const usedPorts = new Set(facts.usedHostPorts);
  const dir = jobDir(facts.runDir, job.jobId);
  const record: JobRecord = {
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
  const steps: Step[] = [];
  const published: NodePlan["published"] = {};
  const rnat: NodePlan["rnat"] = [];
  const jobRules: unknown[][] = [];
  const natRules: unknown[][] = [];
  const localAddr = facts.nodeAddrs[job.nodeRank];
  if (!localAddr) throw new PcoccError(`no address for node rank ${job.nodeRank}`);

  for (const jn of nets) {
    const local = jn.vms.filter((v) => v.node === job.nodeRank);
    if (local.length === 0) continue;
    const s = jn.net.settings;
    const name = jn.net.name;
    const alloc = allocs[name];
    if (!alloc) throw new PcoccError(`network ${name}: no allocation`);
    const l3 = s["network-layer"] === "L3";
    const isMaster = jn.master === job.nodeRank;
    // Namespaced stacks feeding the userspace datapath must send finished checksums (see native.ts).
    const csumOff = (n: string): NetOp[] =>
      s["datapath-type"] === "netdev" ? [{ op: "txCsumOff", name: n }] : [];
    if (isMaster) record.vnis[name] = alloc.vni;
    const p = s["dev-prefix"];
    const mtu = s.mtu;
    const bridge = freeName(`${p}_br`, used);
    record.bridges.push(bridge);
    const ports: OvsPortSpec[] = [];
    const rootOps: NetOp[] = [];
    const domain = domainOf(jn.net, facts.hostDomain);
    const nodeOut: NodeNetRecord = {};

    const taps = local.map((v) => {
      const tap = freeName(`${p}_tap`, used);
      record.links.push(tap);
      rootOps.push({ op: "tapAdd", name: tap, uid: job.uid, gid: job.gid, mtu, up: true, group: job.jobId });
      ports.push({ name: tap, type: "" });
      return { vm: v, tap };
    });

    const peers = jn.nodes.filter((n) => n !== job.nodeRank);
    if (peers.length > 0) {
      const peerAddrs = peers.map((n) => {
        const a = facts.nodeAddrs[n];
        if (!a) throw new PcoccError(`no address for node rank ${n}`);
        return a;
      });
      if (s["datapath-type"] === "netdev") {
        // The userspace datapath cannot terminate tunnels unless the underlay NIC itself is an OVS port:
        // a kernel VXLAN device, attached as a plain port, does it without touching the node's uplink.
        const vx = freeName(`${p}_vx`, used);
        record.links.push(vx);
        rootOps.push({
          op: "linkAdd",
          kind: "vxlan",
          name: vx,
          vni: alloc.vni,
          local: localAddr,
          port: VXLAN_PORT,
          mtu,
          up: true,
          group: job.jobId,
        });
        for (const a of peerAddrs) rootOps.push({ op: "fdbAppend", name: vx, dst: a });
        ports.push({ name: vx, type: "", protected: true });
        jobRules.push([
          match({ payload: { protocol: "udp", field: "dport" } }, VXLAN_PORT),
          match({ payload: { base: "th", offset: 96, len: 24 } }, alloc.vni),
          match(IP_SADDR, { set: peerAddrs }, "!="),
          { counter: null },
          { drop: null },
        ]);
      } else {
        peers.forEach((n, i) =>
          ports.push({
            name: `${bridge}_${n}`,
            type: "vxlan",
            options: { remote_ip: peerAddrs[i]!, key: String(alloc.vni), local_ip: localAddr },
            protected: true,
          }),
        );
      }
    }

    const routerNs = `pcocc_j${job.jobId}n${job.nodeRank}_${name}`;
    const dhcpNs = `${routerNs}_dns`;
    const nsSteps: Step[] = [];
    let dnsmasq: Step | undefined;
    let hostsFiles: Step[] = [];
    if (l3) {
      const int = subnet(s["int-network"], `int-network of ${name}`);
      const ext = subnet(s["ext-network"], `ext-network of ${name}`);
      const gw = gatewayIp(int);
      const extGw = extGatewayIp(ext);
      if (alloc.extIds.length !== local.length)
        throw new PcoccError(`network ${name}: wrong number of external addresses`);
      record.extIds[name] = alloc.extIds;
      record.netns.push(routerNs);
      nsSteps.push({ kind: "netns", name: routerNs });
      const vg = freeName(`${p}_vg`, used);
      const vu = freeName(`${p}_vu`, used);
      record.links.push(vg, vu);
      rootOps.push(
        {
          op: "linkAdd",
          kind: "veth",
          name: vg,
          peer: ROUTER_INT,
          peerNetns: `/run/netns/${routerNs}`,
          mtu,
          up: true,
          group: job.jobId,
        },
        {
          op: "linkAdd",
          kind: "veth",
          name: vu,
          peer: ROUTER_EXT,
          peerNetns: `/run/netns/${routerNs}`,
          mtu,
          up: true,
          group: job.jobId,
        },
        { op: "addrAdd", dev: vu, address: `${extGw}/32` },
      );
      ports.push({ name: vg, type: "", protected: true });
      const rnatCfg = s["reverse-nat"];
      const vmAddrs = taps.map(({ vm }, i) => {
        const e = extIp(ext, alloc.extIds[i]!);
        rootOps.push({ op: "routeAdd", dst: `${e}/32`, dev: vu });
        return { int: vmIp(int, vm.k), ext: e };
      });
      const routerOps: NetOp[] = [
        { op: "linkSet", name: "lo", up: true },
        { op: "linkSet", name: ROUTER_INT, mac: routerMac(s["mac-prefix"], job.nodeRank), up: true },
        { op: "addrAdd", dev: ROUTER_INT, address: `${gw}/${int.prefix}` },
        ...csumOff(ROUTER_INT),
        { op: "linkSet", name: ROUTER_EXT, up: true },
        ...vmAddrs.map((a): NetOp => ({ op: "addrAdd", dev: ROUTER_EXT, address: `${a.ext}/32` })),
        { op: "routeAdd", dst: "default", via: extGw, dev: ROUTER_EXT, onlink: true },
        { op: "sysctl", path: "/proc/sys/net/ipv4/ip_forward", value: "1" },
      ];
      nsSteps.push({ kind: "ops", netns: routerNs, ops: routerOps });
      nsSteps.push({ kind: "nft", netns: routerNs, doc: routerRuleset(vmAddrs, rnatCfg?.["vm-port"]) });

      if (rnatCfg) {
        taps.forEach(({ vm }, i) => {
          let port = rnatCfg["min-host-port"];
          while (usedPorts.has(port)) port++;
          if (port > rnatCfg["max-host-port"])
            throw new PcoccError(`network ${name}: no free reverse NAT host port left on this node`);
          usedPorts.add(port);
          record.hostPorts.push(port);
          rnat.push({ rank: vm.rank, vmPort: rnatCfg["vm-port"], hostPort: port });
          natRules.push([
            match({ fib: { result: "type", flags: ["daddr"] } }, "local"),
            match(IP_DADDR, { prefix: { addr: "127.0.0.0", len: 8 } }, "!="),
            match({ payload: { protocol: "tcp", field: "dport" } }, port),
            { dnat: { addr: vmAddrs[i]!.ext, port: rnatCfg["vm-port"] } },
          ]);
        });
      }

      if (isMaster) {
        record.netns.push(dhcpNs);
        const vd = freeName(`${p}_vd`, used);
        record.links.push(vd);
        rootOps.push({
          op: "linkAdd",
          kind: "veth",
          name: vd,
          peer: DHCP_INT,
          peerNetns: `/run/netns/${dhcpNs}`,
          mtu,
          up: true,
          group: job.jobId,
        });
        ports.push({ name: vd, type: "" });
        const dns = dnsIp(int);
        nsSteps.unshift({ kind: "netns", name: dhcpNs });
        nsSteps.push({
          kind: "ops",
          netns: dhcpNs,
          ops: [
            { op: "linkSet", name: "lo", up: true },
            { op: "linkSet", name: DHCP_INT, mac: reservedMac(s["mac-prefix"], "fd"), up: true },
            { op: "addrAdd", dev: DHCP_INT, address: `${dns}/${int.prefix}` },
            ...csumOff(DHCP_INT),
            { op: "routeAdd", dst: "default", via: gw, dev: DHCP_INT },
          ],
        });
        const hostsPath = `${dir}/${name}.hosts`;
        const dhcpPath = `${dir}/${name}.dhcp`;
        const pidFile = `${dir}/${name}.dnsmasq.pid`;
        const all = jn.vms.map((v) => ({
          mac: vmMac(s["mac-prefix"], v.k + s["mac-start-offset"]),
          ip: vmIp(int, v.k),
          host: `vm${v.rank}`,
        }));
        hostsFiles = [
          {
            kind: "file",
            path: hostsPath,
            content: all.map((v) => `${v.ip} ${v.host}.${domain} ${v.host}\n`).join(""),
          },
          {
            kind: "file",
            path: dhcpPath,
            content: all.map((v) => `${v.mac},${v.ip},${v.host},infinite\n`).join(""),
          },
        ];
        record.pidFiles.push(pidFile);
        dnsmasq = {
          kind: "daemon",
          netns: dhcpNs,
          pidFile,
          argv: dnsmasqArgv({ net: jn.net, int, dns, gw, domain, hostsPath, dhcpPath, pidFile }),
        };
      }
      taps.forEach(({ vm, tap }, i) => {
        nodeOut[`vm-${vm.rank}`] = {
          tap,
          mac: vmMac(s["mac-prefix"], vm.k + s["mac-start-offset"]),
          ip: vmAddrs[i]!.int,
          "ext-ip": vmAddrs[i]!.ext,
          ...(rnatCfg ? { hostPort: record.hostPorts[record.hostPorts.length - taps.length + i] } : {}),
          "domain-name": domain,
        } satisfies VmNic;
      });
    } else {
      taps.forEach(({ vm, tap }) => {
        nodeOut[`vm-${vm.rank}`] = {
          tap,
          mac: vmMac(s["mac-prefix"], vm.k + s["mac-start-offset"]),
        } satisfies VmNic;
      });
    }
    nodeOut.global = { int_br_name: bridge, key_id: alloc.vni, master: jn.master };
    published[name] = nodeOut;

    steps.push(...nsSteps.filter((x) => x.kind === "netns"));
    steps.push({ kind: "ops", ops: rootOps });
    steps.push(...nsSteps.filter((x) => x.kind !== "netns"));
    steps.push({ kind: "ovs-bridge", bridge: { name: bridge, datapathType: s["datapath-type"], ports } });
    steps.push(...hostsFiles);
    if (dnsmasq) steps.push(dnsmasq);
  }

  if (jobRules.length > 0 || natRules.length > 0) {
    const table = jobTable(job.jobId);
    record.nftTables.push(table);
    steps.push({ kind: "nft", doc: jobRuleset(table, jobRules, natRules) });
  }
  for (const r of rnat) record.keys.push(rnatSubKey(r.rank, r.vmPort));
  for (const n of Object.keys(published)) record.keys.push(netRecordSubKey(n, job.nodeRank));
  return { record, steps, published, rnat };
}

function jobRuleset(table: string, inputRules: unknown[][], natRules: unknown[][]): unknown {
  const t = { family: "ip", table };
  const cmds: unknown[] = [{ add: { table: { family: "ip", name: table } } }];
  if (inputRules.length > 0) {
    cmds.push({
      add: { chain: { ...t, name: "input", type: "filter", hook: "input", prio: -10, policy: "accept" } },
    });
    for (const r of inputRules) cmds.push({ add: { rule: { ...t, chain: "input", expr: r } } });
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
    for (const r of natRules) {
      cmds.push({ add: { rule: { ...t, chain: "prerouting", expr: r } } });
      cmds.push({ add: { rule: { ...t, chain: "output", expr: r } } });
    }
  }
  return { nftables: cmds };
}

function routerRuleset(vms: Array<{ int: string; ext: string }>, vmPort: number | undefined): unknown {
  const t = { family: "ip", table: NODE_TABLE };
  const fromExt = match({ meta: { key: "iifname" } }, ROUTER_EXT);
  const toExt = match({ meta: { key: "oifname" } }, ROUTER_EXT);
  const rule = (chain: string, expr: unknown[]): unknown => ({ add: { rule: { ...t, chain, expr } } });
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
      ...vms.map((v) => rule("post", [toExt, match(IP_SADDR, v.int), { snat: { addr: v.ext } }])),
      // Other sources of the private network (the DNS forwarder) share the router's first address.
      rule("post", [toExt, { masquerade: null }]),
      rule("fwd", [
        fromExt,
        match({ ct: { key: "state" } }, ["established", "related"], "in"),
        { accept: null },
      ]),
      ...(vmPort === undefined
        ? []
        : [
            rule("fwd", [
              fromExt,
              match({ payload: { protocol: "tcp", field: "dport" } }, vmPort),
              { accept: null },
            ]),
          ]),
      rule("fwd", [
        fromExt,
        match({ payload: { protocol: "icmp", field: "type" } }, "echo-request"),
        { accept: null },
      ]),
      rule("fwd", [fromExt, { drop: null }]),
    ],
  };
}

function dnsmasqArgv(o: {
  net: EthernetNetworkConfig;
  int: Subnet;
  dns: string;
  gw: string;
  domain: string;
  hostsPath: string;
  dhcpPath: string;
  pidFile: string;
}): string[] {
  const s = o.net.settings;
  const search = s["dns-search"] ? `${o.domain},${s["dns-search"]}` : o.domain;
  const argv = [
    "/usr/sbin/dnsmasq",
    "--conf-file=/dev/null",
    `--pid-file=${o.pidFile}`,
    "--dhcp-authoritative",
    "--leasefile-ro",
    "--dhcp-lease-max=65536",
    `--dhcp-hostsfile=${o.dhcpPath}`,
    `--domain=${o.domain}`,
    `--dhcp-option=15,${o.domain}`,
    `--dhcp-option=119,${search}`,
    `--dhcp-option=26,${s.mtu - 50}`,
    `--dhcp-option=option:dns-server,${o.dns}`,
    `--dhcp-option=option:netmask,${netmask(o.int.prefix)}`,
    `--dhcp-option=option:router,${o.gw}`,
    `--listen-address=${o.dns}`,
    "--bind-interfaces",
    `--dhcp-range=${subnetBase(o.int)},static`,
    "--no-hosts",
    "--expand-hosts",
    `--addn-hosts=${o.hostsPath}`,
  ];
  if (s["ntp-server"]) argv.push(`--dhcp-option=option:ntp-server,${s["ntp-server"]}`);
  if (s["dns-server"]) argv.push(`--server=${s["dns-server"]}`);
  if (s["allow-outbound"] === "none" || s["dns-server"]) argv.push("--no-resolv");
  return argv;
}

function subnetBase(s: Subnet): string {
  return vmIp(s, -1);
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
  const rule = (chain: string, expr: unknown[]): unknown => ({ add: { rule: { ...t, chain, expr } } });
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
