import type { EthernetSettings } from "../config/index.js";
import { netmask, networkIp, type Subnet } from "./addressing.js";
import { csumOffOps } from "./plan-router.js";
import type { BridgePart, NetContext, Step } from "./plan-types.js";

const DHCP_INT = "int0";

export interface DhcpDnsPart extends BridgePart {
  netns: string;
  nsSteps: Step[];
  /** The hosts and DHCP host files dnsmasq reads (after the bridge is up). */
  files: Step[];
  daemon: Step;
}

/**
 * DHCP/DNS of an L3 network, on its master node only: a namespace on the bridge (.255.253, ff:ff:fd) where
 * dnsmasq answers with the planned address (`mac,ip,vmN.<domain>`) of every VM of the network (segment).
 */
export function planDhcpDns(ctx: NetContext, routerNs: string, domain: string, user = "nobody"): DhcpDnsPart {
  const s = ctx.jn.net.settings;
  const { int, dns, gateway: gw, dnsMac } = ctx.addr;
  const netns = `${routerNs}_dns`;
  ctx.record.netns.push(netns);
  const vd = ctx.newLink("vd");
  const nsSteps: Step[] = [
    {
      kind: "ops",
      netns,
      ops: [
        { op: "linkSet", name: "lo", up: true },
        { op: "linkSet", name: DHCP_INT, mac: dnsMac, up: true },
        { op: "addrAdd", dev: DHCP_INT, address: `${dns}/${int.prefix}` },
        ...csumOffOps(ctx, DHCP_INT),
        { op: "routeAdd", dst: "default", via: gw, dev: DHCP_INT },
      ],
    },
  ];
  const dir = ctx.record.dir;
  const hostsPath = `${dir}/${ctx.tag}.hosts`;
  const dhcpPath = `${dir}/${ctx.tag}.dhcp`;
  const pidFile = `${dir}/${ctx.tag}.dnsmasq.pid`;
  const all = ctx.jn.vms.map((v) => ({
    mac: ctx.addr.vmMac(v.k),
    ip: ctx.addr.vmIp(v.k),
    host: `vm${v.rank}`,
  }));
  const files: Step[] = [
    {
      kind: "file",
      path: hostsPath,
      owner: user,
      content: all.map((v) => `${v.ip} ${v.host}.${domain} ${v.host}\n`).join(""),
    },
    {
      kind: "file",
      path: dhcpPath,
      owner: user,
      content: all.map((v) => `${v.mac},${v.ip},${v.host},infinite\n`).join(""),
    },
  ];
  ctx.record.pidFiles.push(pidFile);
  return {
    rootOps: [
      {
        op: "linkAdd",
        kind: "veth",
        name: vd,
        peer: DHCP_INT,
        peerNetns: `/run/netns/${netns}`,
        mtu: s.mtu,
        up: true,
        group: ctx.job.jobId,
      },
    ],
    ports: [{ name: vd, type: "" }],
    netns,
    nsSteps,
    files,
    daemon: {
      kind: "daemon",
      netns,
      pidFile,
      argv: dnsmasqArgv({ settings: s, int, dns, gw, domain, hostsPath, dhcpPath, pidFile, user }),
    },
  };
}

/** The DHCP/DNS server each L3 network runs in its namespace (Debian's dnsmasq-base). */
export const DNSMASQ = "/usr/sbin/dnsmasq";

function dnsmasqArgv(o: {
  settings: EthernetSettings;
  int: Subnet;
  dns: string;
  gw: string;
  domain: string;
  hostsPath: string;
  dhcpPath: string;
  pidFile: string;
  user: string;
}): string[] {
  const s = o.settings;
  const search = s["dns-search"] ? `${o.domain},${s["dns-search"]}` : o.domain;
  const argv = [
    DNSMASQ,
    "--conf-file=/dev/null",
    `--pid-file=${o.pidFile}`,
    // It reads its host files after dropping to this account: they are readable by it alone.
    `--user=${o.user}`,
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
    `--dhcp-range=${networkIp(o.int)},static`,
    "--no-hosts",
    "--expand-hosts",
    `--addn-hosts=${o.hostsPath}`,
  ];
  if (s["ntp-server"]) argv.push(`--dhcp-option=option:ntp-server,${s["ntp-server"]}`);
  if (s["dns-server"]) argv.push(`--server=${s["dns-server"]}`);
  if (s["allow-outbound"] === "none" || s["dns-server"]) argv.push("--no-resolv");
  return argv;
}
