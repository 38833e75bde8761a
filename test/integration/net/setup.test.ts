import type { ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type PcoccConfig } from "../../../src/config/index.js";
import { IdAllocator, openKeystore, type Keystore } from "../../../src/keystore/index.js";
import { nodeExec, nodeSpawn, type LabInfo, type LabNode } from "../../../src/lab/index.js";
import { useLab } from "../../support/lab.js";

/*
 * Acceptance on the lab (2 nodes, each with its own OVS, /run/pcocc and network namespace): the real
 * `pcocc internal setup` CLI as the SPANK plugin runs it. A "VM" is a network namespace whose eth0 is a
 * veth, bridged to the job's tap by a small relay that holds the tap open the way QEMU does
 * (tap-endpoint.py); the namespace gets its address with busybox udhcpc like a guest would.
 */
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
const relayScript = join(here, "tap-endpoint.py");
const sniffScript = join(here, "sniff.py");
const MARKER = "a5c3a5c35a3c5a3c";
const dhcpScript = join(here, "udhcpc-script.sh");
const JOB_A = 910_000 + (process.pid % 1000) * 10;
const JOB_B = JOB_A + 1;
/** pcocc's nat + pv networks (the lab's seed-cluster resource set). */
const JOB_C = JOB_A + 4;
/** Jobs of this test: JOB_A + 2 is the one whose create fails, JOB_A + 3 the one deleted with -j. */
const MINE = [JOB_A, JOB_B, JOB_A + 2, JOB_A + 3, JOB_C];

let lab: LabInfo;
let config: PcoccConfig;
let ks: Keystore;
const relays: ChildProcess[] = [];
const endpoints: Array<{ node: LabNode; ns: string; host: string }> = [];

async function on(node: LabNode, argv: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await nodeExec(node, argv, { env, timeoutMs: 120_000 });
  if (r.code !== 0)
    throw new Error(`${argv.join(" ")} on ${node.name} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function setup(node: LabNode, action: string, env: Record<string, string> = {}): Promise<string> {
  return on(node, [join(repo, "bin", "pcocc"), "internal", "setup", action], {
    PCOCC_SYSTEM_CONF_DIR: lab.pcoccConfDir,
    ...env,
  });
}

/** What the SPANK plugin would pass for a 2-node step with one VM per node. */
function jobEnv(jobId: number, rank: number): Record<string, string> {
  return {
    SLURM_JOB_ID: String(jobId),
    SLURM_STEP_ID: "0",
    SLURM_JOB_UID: String(lab.user.uid),
    SLURM_JOB_GID: String(lab.user.gid),
    SLURM_JOB_USER: lab.user.name,
    SLURM_JOB_NODELIST: lab.nodes
      .slice(0, 2)
      .map((n) => n.name)
      .join(","),
    SLURM_NODEID: String(rank),
    SLURM_STEP_NUM_NODES: "2",
    PCOCC_STEP_LOCAL_TASKS: "1",
    PCOCC_STEP_TOTAL_TASKS: "2",
    SLURM_TASKS_PER_NODE: "1(x2)",
    SPANK_PCOCC_SETUP: "default:2",
  };
}

const bothNodes = <T>(fn: (node: LabNode, rank: number) => Promise<T>): Promise<T[]> =>
  Promise.all(lab.nodes.slice(0, 2).map((n, i) => fn(n, i)));

/**
 * What a node holds, minus the objects of jobs other than this test's (other suites share the lab and may
 * run jobs meanwhile; their objects are named in their records).
 */
async function snapshot(node: LabNode): Promise<Record<string, string>> {
  const mine = (id: number): boolean => MINE.includes(id);
  const recs = await on(node, [
    "sh",
    "-c",
    "cat /run/pcocc/job-*/record.json 2>/dev/null | tr '\\n' ' '; echo",
  ]);
  const others = (recs.match(/\{"jobId"[^]*?"keys":\[[^\]]*\]\}/g) ?? [])
    .map((t) => JSON.parse(t) as { jobId: number; links: string[]; bridges: string[] })
    .filter((r) => !mine(r.jobId));
  const foreign = new Set(others.flatMap((r) => [...r.links, ...r.bridges]));
  const links = await on(node, ["ip", "-o", "link", "show"]);
  const bridges = (await on(node, ["ovs-vsctl", "--timeout=10", "list-br"]))
    .split("\n")
    .filter((b) => b && !foreign.has(b));
  const ports = await Promise.all(bridges.map((b) => on(node, ["ovs-vsctl", "list-ports", b])));
  const netns = await on(node, ["ls", "/run/netns"]);
  const jobOf = (name: string): number | undefined => {
    const m = /^pcocc_j([0-9]+)/.exec(name);
    return m ? Number(m[1]) : undefined;
  };
  const nft = (await on(node, ["nft", "list", "ruleset"]))
    .split(/^(?=table )/m)
    .filter((block) => {
      const id = jobOf(/^table ip (\S+)/.exec(block)?.[1] ?? "");
      return id === undefined || mine(id);
    })
    .join("")
    // counters count the attacks of earlier tests; they are not objects a job leaves behind
    .replace(/counter packets [0-9]+ bytes [0-9]+/g, "counter");
  return {
    links: links
      .split("\n")
      .map((l) => l.split(":")[1]?.trim().replace(/@.*/, ""))
      // ovs-netdev is vswitchd's own datapath device, made with the first userspace bridge and kept.
      .filter((l): l is string => !!l && !foreign.has(l) && l !== "ovs-netdev")
      .sort()
      .join(" "),
    ovs: bridges.join(" ") + "\n" + ports.join(""),
    nft,
    netns: netns
      .split("\n")
      .filter((n) => n.startsWith("pcocc_") && mine(jobOf(n) ?? -1))
      .join(" "),
    dnsmasq: (await nodeExec(node, ["pgrep", "-a", "dnsmasq"])).stdout
      .split("\n")
      .filter((l) => MINE.some((j) => l.includes(`/job-${j}/`)))
      .join("\n"),
    // vm-state is the root-owned parent of the jobs' VM state, made by the first create and kept
    records: (await on(node, ["sh", "-c", "ls -A /run/pcocc; ls -A /run/pcocc/vm-state 2>/dev/null || true"]))
      .split("\n")
      .filter((n) => n !== "vm-state" && (!/^job-[0-9]+$/.test(n) || mine(Number(n.slice(4)))))
      .join(" "),
  };
}

async function etcdState(): Promise<unknown> {
  const vni = new IdAllocator(ks, "net/type/ethernet/key_alloc_state", 64512);
  const ext = new IdAllocator(ks, "net/type/ethernet/natip_alloc_state", 65534);
  const jobKeys = await Promise.all(
    MINE.map(async (j) =>
      [...(await ks.getPrefix(`/pcocc/cluster/${j}/`)).entries.keys()].filter(
        (k) => !k.endsWith("/destroyed"),
      ),
    ),
  );
  return { vni: await vni.list(), ext: await ext.list(), jobKeys };
}

async function published(
  jobId: number,
  rank: number,
  net = "nat-rssh",
): Promise<Record<string, { tap: string; mac: string; ip: string; hostPort: number; "ext-ip": string }>> {
  const e = await ks.get(`/pcocc/cluster/${jobId}/${net}/${rank}`);
  return e?.value as never;
}

/** A job network's VNI, from the node records root keeps (users are never shown it). */
async function vniOf(jobId: number, net = "nat-rssh"): Promise<number> {
  for (const node of lab.nodes.slice(0, 2)) {
    const rec = JSON.parse((await on(node, ["cat", `/run/pcocc/job-${jobId}/record.json`])) || "{}") as {
      vnis?: Record<string, number>;
    };
    const vni = rec.vnis?.[net];
    if (vni !== undefined) return vni;
  }
  throw new Error(`no VNI recorded for job ${jobId}`);
}

/** A "VM" on `node`: namespace + veth + relay to `tap`; returns its namespace name. */
async function endpoint(node: LabNode, jobId: number, rank: number, tap: string): Promise<string> {
  const ns = `pcocctest-ep${jobId}-${rank}`;
  const host = `ept${jobId % 1000}${rank}`;
  await on(node, [
    "sh",
    "-ec",
    `ip netns add ${ns}; ip link add ${host} type veth peer name eth0 netns ${ns}; ip link set ${host} up
     ip -n ${ns} link set lo up; ip -n ${ns} link set eth0 up
     ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1
     ip netns exec ${ns} ethtool -K eth0 tx off >/dev/null`,
  ]);
  endpoints.push({ node, ns, host });
  const relay = nodeSpawn(node, ["python3", relayScript, tap, host], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  relays.push(relay);
  await new Promise<void>((resolve, reject) => {
    relay.stdout!.once("data", () => resolve());
    relay.once("exit", (c) => reject(new Error(`relay for ${tap} exited (${c})`)));
  });
  return ns;
}

const inNs = (node: LabNode, ns: string, argv: string[]): Promise<string> =>
  on(node, ["ip", "netns", "exec", ns, ...argv]);
const tryInNs = async (node: LabNode, ns: string, argv: string[]): Promise<number> =>
  (await nodeExec(node, ["ip", "netns", "exec", ns, ...argv], { timeoutMs: 60_000 })).code;

function tcpRead(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    const s = connect({ host, port });
    s.setTimeout(10_000, () => s.destroy(new Error(`timeout reading ${host}:${port}`)));
    s.on("data", (d) => (data += d.toString()));
    s.on("end", () => resolve(data));
    s.on("error", reject);
  });
}

async function stopEndpoints(): Promise<void> {
  for (const r of relays.splice(0)) r.kill("SIGKILL");
  // Deleting the veth is synchronous; a namespace's own teardown is not.
  for (const e of endpoints.splice(0)) {
    await nodeExec(e.node, ["ip", "link", "del", e.host]);
    await nodeExec(e.node, ["ip", "netns", "del", e.ns]);
  }
}

/** Counts frames carrying MARKER that reach `ns`'s eth0 during 8 s (sniff.py). */
function sniff(node: LabNode, ns: string): Promise<number> {
  const p = nodeSpawn(node, ["ip", "netns", "exec", ns, "python3", sniffScript, "eth0", MARKER, "8"]);
  relays.push(p);
  return new Promise((resolve, reject) => {
    let out = "";
    p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    p.once("exit", () => {
      const n = /ready\n([0-9]+)/.exec(out);
      if (n) resolve(Number(n[1]));
      else reject(new Error(`sniffer in ${ns} failed: ${out}`));
    });
  });
}

/**
 * Python that sends one VXLAN packet (VNI `vni`) holding a broadcast frame with MARKER to `dst`:4789, from
 * source port `sport` (0: any). Prints "sent", or "refused" when the kernel refuses the datagram.
 */
function vxlanSender(dst: string, vni: number, sport = 0): string[] {
  const code = [
    "import socket,struct",
    `frame=b"\\xff"*6+bytes.fromhex("020000000099")+b"\\x88\\xb5"+bytes.fromhex("${MARKER}")*4`,
    `pkt=struct.pack("!II",0x08000000,${vni}<<8)+frame`,
    "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)",
    `s.bind(("",${sport}))`,
    "try:",
    `  s.sendto(pkt,("${dst}",4789)); print("sent")`,
    "except PermissionError:",
    '  print("refused")',
  ].join("\n");
  return ["python3", "-c", code];
}

/** As the lab's second user, ids dropped (the way any other local user's process runs on the node). */
const asUser2 = (argv: string[]): string[] => [
  "setpriv",
  `--reuid=${lab.user2.uid}`,
  `--regid=${lab.user2.gid}`,
  "--clear-groups",
  ...argv,
];

/**
 * Python that connects to host:port over TCP (source port `sport`, 0: any) with a 3 s timeout and prints
 * "connected", "refused" or "timeout"; with `udp`, sends one datagram instead and prints "sent".
 */
function connector(host: string, port: number, sport = 0, udp = false): string[] {
  const code = [
    "import socket",
    `s=socket.socket(socket.AF_INET,socket.${udp ? "SOCK_DGRAM" : "SOCK_STREAM"})`,
    `s.bind(("",${sport})); s.settimeout(3)`,
    "try:",
    udp
      ? `  s.sendto(b"hi",("${host}",${port})); print("sent")`
      : `  s.connect(("${host}",${port})); print("connected")`,
    'except ConnectionRefusedError: print("refused")',
    'except (socket.timeout, OSError) as e: print("timeout", e)',
  ].join("\n");
  return ["python3", "-c", code];
}

let before: unknown[];
let etcdBefore: unknown;

beforeAll(async () => {
  lab = await useLab({ images: false });
  config = await loadConfig({ systemDir: lab.pcoccConfDir, user: false });
  ks = await openKeystore({ config, as: "root" });
});

afterAll(async () => {
  await stopEndpoints();
  if (lab)
    for (const j of [JOB_A, JOB_B, JOB_C])
      await bothNodes((n, r) => setup(n, "delete", jobEnv(j, r)).catch(() => ""));
  await ks?.close();
});

describe("pcocc internal setup on the lab", () => {
  it("init succeeds twice in a row", async () => {
    await bothNodes((n) => setup(n, "init"));
    await bothNodes((n) => setup(n, "init"));
    before = await bothNodes((n) => snapshot(n));
    etcdBefore = await etcdState();
    expect((before[0] as Record<string, string>).nft).toContain("table ip pcocc");
  });

  it("creates one job across two nodes: DHCP, ping over VXLAN, DNS, outbound NAT, reverse NAT", async () => {
    await bothNodes((n, r) => setup(n, "create", jobEnv(JOB_A, r)));
    const [p0, p1] = await Promise.all([published(JOB_A, 0), published(JOB_A, 1)]);
    const vm0 = p0["vm-0"]!;
    const vm1 = p1["vm-1"]!;
    expect(vm0).toMatchObject({ mac: "52:54:00:00:00:00", ip: "10.251.0.1" });
    expect(vm1).toMatchObject({ mac: "52:54:00:00:00:01", ip: "10.251.0.2" });
    expect((await ks.get(`/pcocc/cluster/${JOB_A}/rnat/1/22`))?.value).toBe(vm1.hostPort);

    const [n1, n2] = lab.nodes as [LabNode, LabNode];
    const ns0 = await endpoint(n1, JOB_A, 0, vm0.tap);
    const ns1 = await endpoint(n2, JOB_A, 1, vm1.tap);
    const dhcp = [
      "busybox",
      "udhcpc",
      "-i",
      "eth0",
      "-n",
      "-q",
      "-f",
      "-t",
      "10",
      "-T",
      "1",
      "-s",
      dhcpScript,
    ];
    // The MAC of the NIC is the planned one, as QEMU would set it.
    await inNs(n1, ns0, ["ip", "link", "set", "eth0", "address", vm0.mac]);
    await inNs(n2, ns1, ["ip", "link", "set", "eth0", "address", vm1.mac]);
    expect(await inNs(n1, ns0, dhcp)).toContain(
      "lease ip=10.251.0.1 router=10.251.255.254 dns=10.251.255.253",
    );
    expect(await inNs(n2, ns1, dhcp)).toContain("lease ip=10.251.0.2 router=10.251.255.254");

    expect(await inNs(n1, ns0, ["ping", "-c", "2", "-W", "3", "10.251.0.2"])).toContain("2 received");
    expect(await inNs(n1, ns0, ["busybox", "nslookup", "vm1.pcocc", "10.251.255.253"])).toMatch(
      /Address: 10\.251\.0\.2/,
    );
    // Outbound through each node's own router and the host's masquerade, to the lab bridge.
    expect(await inNs(n1, ns0, ["ping", "-c", "1", "-W", "3", lab.controllerIp])).toContain("1 received");
    expect(await inNs(n2, ns1, ["ping", "-c", "1", "-W", "3", lab.controllerIp])).toContain("1 received");

    // Reverse NAT: node2's host port reaches vm1's port 22.
    const listener = nodeSpawn(n2, [
      "ip",
      "netns",
      "exec",
      ns1,
      "busybox",
      "nc",
      "-l",
      "-p",
      "22",
      "-e",
      "echo",
      "hello-from-vm1",
    ]);
    relays.push(listener);
    await new Promise((r) => setTimeout(r, 300));
    expect((await tcpRead(n2.ip, vm1.hostPort)).trim()).toBe("hello-from-vm1");

    // Ingress filtering: a VXLAN packet with the job's VNI from the lab bridge (not a node of the job) is
    // dropped by node2; the same packet from node1, a peer of the job, reaches vm1.
    const vni = await vniOf(JOB_A);
    const fromOutsider = sniff(n2, ns1);
    await new Promise((r) => setTimeout(r, 1500));
    const { spawnSync } = await import("node:child_process");
    for (let i = 0; i < 3; i++)
      expect(spawnSync(vxlanSender(n2.ip, vni)[0]!, vxlanSender(n2.ip, vni).slice(1)).status).toBe(0);
    expect(await fromOutsider).toBe(0);
    expect(await on(n2, ["nft", "list", "table", "ip", `pcocc_j${JOB_A}`])).toMatch(/counter packets [1-9]/);
    // From node1, a peer of the job, only the node's own tunnel source ports (privileged) get through.
    const fromPeer = sniff(n2, ns1);
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < 3; i++) await on(n1, vxlanSender(n2.ip, vni, 700 + i));
    expect(await fromPeer).toBeGreaterThanOrEqual(1);
  });

  it("VXLAN frames forged with a job's real VNI never reach its bridge from a local user or a VM", async () => {
    const [n1, n2] = lab.nodes as [LabNode, LabNode];
    const vni = await vniOf(JOB_A);
    const ns0 = `pcocctest-ep${JOB_A}-0`;
    const ns1 = `pcocctest-ep${JOB_A}-1`;
    const counted = async (node: LabNode, table: string, chain: string): Promise<number> =>
      [
        ...(await on(node, ["nft", "list", "chain", "ip", table, chain])).matchAll(
          /counter packets ([0-9]+)/g,
        ),
      ]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0);
    const egressBefore = await counted(n1, "pcocc", "output");
    const ingressBefore = await counted(n2, `pcocc_j${JOB_A}`, "input");
    const seen = sniff(n2, ns1);
    await new Promise((r) => setTimeout(r, 1500));
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      // another user's process on node1 (unprivileged: any source port >= 1024)
      outcomes.push((await on(n1, asUser2(vxlanSender(n2.ip, vni)))).trim());
      // root inside a VM on node1, from a privileged source port: NATed like any VM traffic
      outcomes.push((await inNs(n1, ns0, vxlanSender(n2.ip, vni, 800 + i))).trim());
      // a datagram that got past a node's egress guard (root, unprivileged port): node2 drops it
      outcomes.push((await on(n1, vxlanSender(n2.ip, vni, 40000 + i))).trim());
    }
    expect(await seen).toBe(0);
    expect(outcomes.filter((o) => o === "refused").length).toBeGreaterThanOrEqual(3);
    expect(await counted(n1, "pcocc", "output")).toBeGreaterThanOrEqual(egressBefore + 3);
    expect(await counted(n2, `pcocc_j${JOB_A}`, "input")).toBeGreaterThanOrEqual(ingressBefore + 3);
    // The job's own tunnel still carries its traffic.
    expect(await inNs(n1, ns0, ["ping", "-c", "2", "-W", "3", "10.251.0.2"])).toContain("2 received");
  });

  it("VM traffic leaves from unprivileged source ports and never reaches the node's own services", async () => {
    const [n1] = lab.nodes as [LabNode, LabNode];
    const ns0 = `pcocctest-ep${JOB_A}-0`;
    const { createServer, createSocket } = await import("./listeners.js");
    // Listeners outside the job: on the login node (this process, in the lab's root namespace).
    const tcp = await createServer(lab.controllerIp);
    const udp = await createSocket(lab.controllerIp);
    try {
      expect((await inNs(n1, ns0, connector(lab.controllerIp, tcp.port, 700))).trim()).toBe("connected");
      expect((await inNs(n1, ns0, connector(lab.controllerIp, udp.port, 701, true))).trim()).toBe("sent");
      const [tcpPeer] = await tcp.peers(1);
      const [udpPeer] = await udp.peers(1);
      expect(tcpPeer).toMatchObject({ address: n1.ip });
      expect(tcpPeer!.port).toBeGreaterThanOrEqual(1024);
      expect(udpPeer).toMatchObject({ address: n1.ip });
      expect(udpPeer!.port).toBeGreaterThanOrEqual(1024);
    } finally {
      tcp.close();
      udp.close();
    }
    // The node's services: slurmd, and any listener on any of its addresses (the uplink's and the one it
    // holds towards the routers). Each is reachable from the login node, so the test can fail.
    const listener = nodeSpawn(n1, [
      "python3",
      "-c",
      'import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("0.0.0.0",2222));s.listen();print("ready",flush=True);[c.close() for c,_ in iter(s.accept,None)]',
    ]);
    relays.push(listener);
    await new Promise<void>((resolve) => listener.stdout!.once("data", () => resolve()));
    for (const [host, port] of [
      [n1.ip, 16818],
      [n1.ip, 2222],
      ["10.250.255.254", 2222],
    ] as const) {
      expect((await inNs(n1, ns0, connector(host, port))).trim(), `${host}:${port}`).toMatch(/^timeout/);
      if (host === n1.ip)
        expect((await on(lab.nodes[1]!, connector(host, port))).trim(), `${host}:${port}`).toBe("connected");
    }
    // DHCP/DNS still answer, from the job's own namespace.
    expect(await inNs(n1, ns0, ["busybox", "nslookup", "vm1.pcocc", "10.251.255.253"])).toMatch(
      /Address: 10\.251\.0\.2/,
    );
  });

  it("the job's DHCP and hosts files are readable by dnsmasq's account alone", async () => {
    const [n1] = lab.nodes as [LabNode, LabNode];
    const dir = `/run/pcocc/job-${JOB_A}`;
    expect(
      (await on(n1, ["stat", "-c", "%a %U", dir, `${dir}/nat-rssh.dhcp`, `${dir}/nat-rssh.hosts`])).trim(),
    ).toBe("711 root\n400 dnsmasq\n400 dnsmasq");
    const r = await nodeExec(n1, asUser2(["cat", `${dir}/nat-rssh.dhcp`]));
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
  });

  it("a second concurrent job gets its own VNI and addresses, and no packet crosses between the jobs", async () => {
    await bothNodes((n, r) => setup(n, "create", jobEnv(JOB_B, r)));
    const [a0, a1, b0, b1] = await Promise.all([
      published(JOB_A, 0),
      published(JOB_A, 1),
      published(JOB_B, 0),
      published(JOB_B, 1),
    ]);
    expect(await vniOf(JOB_B)).not.toBe(await vniOf(JOB_A));
    // every user reads the published records: the VNI is not in them
    expect(JSON.stringify([a0, a1, b0, b1])).not.toMatch(/key_id/);
    const extA = [a0["vm-0"]!["ext-ip"], a1["vm-1"]!["ext-ip"]];
    const extB = [b0["vm-0"]!["ext-ip"], b1["vm-1"]!["ext-ip"]];
    expect(new Set([...extA, ...extB]).size).toBe(4);

    const [n1, n2] = lab.nodes as [LabNode, LabNode];
    const nsB0 = await endpoint(n1, JOB_B, 0, b0["vm-0"]!.tap);
    const nsB1 = await endpoint(n2, JOB_B, 1, b1["vm-1"]!.tap);
    const nsA0 = `pcocctest-ep${JOB_A}-0`;
    await inNs(n1, nsB0, ["ip", "link", "set", "eth0", "address", b0["vm-0"]!.mac]);
    await inNs(n2, nsB1, ["ip", "link", "set", "eth0", "address", b1["vm-1"]!.mac]);
    const dhcp = [
      "busybox",
      "udhcpc",
      "-i",
      "eth0",
      "-n",
      "-q",
      "-f",
      "-t",
      "10",
      "-T",
      "1",
      "-s",
      dhcpScript,
    ];
    expect(await inNs(n1, nsB0, dhcp)).toContain("lease ip=10.251.0.1");
    expect(await inNs(n2, nsB1, dhcp)).toContain("lease ip=10.251.0.2");
    expect(await inNs(n1, nsB0, ["ping", "-c", "1", "-W", "3", "10.251.0.2"])).toContain("1 received");

    // Job B's VMs listen for a marker that job A's VM puts in every packet it sends: broadcast pings to its
    // whole network, pings to job A's own vm1 (same addresses and MACs as job B's), and pings to job B's
    // external addresses through the NAT. The sniffers must see the marker on job A's vm1 only.
    const counts = Promise.all([sniff(n1, nsB0), sniff(n2, nsB1), sniff(n2, `pcocctest-ep${JOB_A}-1`)]);
    await new Promise((r) => setTimeout(r, 1500));
    const pat = ["-p", MARKER];
    await tryInNs(n1, nsA0, ["ping", ...pat, "-b", "-c", "2", "-W", "1", "10.251.255.255"]);
    expect(await inNs(n1, nsA0, ["ping", ...pat, "-c", "2", "-W", "2", "10.251.0.2"])).toContain(
      "2 received",
    );
    for (const e of extB)
      expect(await tryInNs(n1, nsA0, ["ping", ...pat, "-c", "1", "-W", "2", e])).not.toBe(0);
    const [b0seen, b1seen, a1seen] = await counts;
    expect(a1seen).toBeGreaterThanOrEqual(2);
    expect([b0seen, b1seen]).toEqual([0, 0]);
  });

  it("pcocc's nat + pv: a fixed lease per VM segment, no traffic with another L3 network's job, pv VNI guarded", async () => {
    const seedEnv = (r: number) => ({ ...jobEnv(JOB_C, r), SPANK_PCOCC_SETUP: "seed-cluster:2" });
    await bothNodes((n, r) => setup(n, "create", seedEnv(r)));
    const [c0, c1] = await Promise.all([
      published(JOB_C, 0, "seed-nat-rssh"),
      published(JOB_C, 1, "seed-nat-rssh"),
    ]);
    const vm0 = c0["vm-0"]!;
    const vm1 = c1["vm-1"]!;
    // pcocc's nat: one address and MAC for every VM
    for (const vm of [vm0, vm1]) expect(vm).toMatchObject({ mac: "52:54:00:44:ae:5e", ip: "10.252.0.2" });
    expect(vm0["ext-ip"]).toMatch(/^10\.253\./);
    const [n1, n2] = lab.nodes as [LabNode, LabNode];
    const nsC0 = await endpoint(n1, JOB_C, 0, vm0.tap);
    const nsC1 = await endpoint(n2, JOB_C, 1, vm1.tap);
    await inNs(n1, nsC0, ["ip", "link", "set", "eth0", "address", vm0.mac]);
    await inNs(n2, nsC1, ["ip", "link", "set", "eth0", "address", vm1.mac]);
    const dhcp = [
      "busybox",
      "udhcpc",
      "-i",
      "eth0",
      "-n",
      "-q",
      "-f",
      "-t",
      "10",
      "-T",
      "1",
      "-s",
      dhcpScript,
    ];
    for (const [node, ns] of [
      [n1, nsC0],
      [n2, nsC1],
    ] as const)
      expect(await inNs(node, ns, dhcp)).toContain("lease ip=10.252.0.2 router=10.252.0.1 dns=10.252.0.254");
    expect(await inNs(n1, nsC0, ["ping", "-c", "1", "-W", "3", lab.controllerIp])).toContain("1 received");
    const listener = nodeSpawn(n1, [
      "ip",
      "netns",
      "exec",
      nsC0,
      "busybox",
      "nc",
      "-l",
      "-p",
      "22",
      "-e",
      "echo",
      "hello-from-c0",
    ]);
    relays.push(listener);
    await new Promise((r) => setTimeout(r, 300));
    expect((await tcpRead(n1.ip, vm0.hostPort)).trim()).toBe("hello-from-c0");

    // Job A's vm1 (ethernet nat-rssh) and job C's vm1 (nat) share node2, each answers pings from the node;
    // neither reaches the other's external address (before, each network only kept its own range apart).
    const a1 = (await published(JOB_A, 1))["vm-1"]!;
    const nsA1 = `pcocctest-ep${JOB_A}-1`;
    for (const e of [a1["ext-ip"], vm1["ext-ip"]])
      expect(await on(n2, ["ping", "-c", "1", "-W", "3", e])).toContain("1 received");
    expect(await tryInNs(n2, nsC1, ["ping", "-c", "1", "-W", "2", a1["ext-ip"]])).not.toBe(0);
    expect(await tryInNs(n2, nsA1, ["ping", "-c", "1", "-W", "2", vm1["ext-ip"]])).not.toBe(0);

    // pv: frames with its real VNI from another user on node1 never reach job C's vm1; the peer node's
    // own tunnel ports (privileged) do.
    const pv1 = (await published(JOB_C, 1, "seed-pv"))["vm-1"]!;
    const nsP1 = await endpoint(n2, JOB_C, 11, pv1.tap);
    const vni = await vniOf(JOB_C, "seed-pv");
    const fromUser = sniff(n2, nsP1);
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < 3; i++) await on(n1, asUser2(vxlanSender(n2.ip, vni)));
    expect(await fromUser).toBe(0);
    const fromPeer = sniff(n2, nsP1);
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < 3; i++) await on(n1, vxlanSender(n2.ip, vni, 710 + i));
    expect(await fromPeer).toBeGreaterThanOrEqual(1);
  });

  it("delete restores links, namespaces, OVS, nftables, dnsmasq and etcd exactly", async () => {
    await stopEndpoints();
    // delete goes by the node's records, whatever the job's resource definition
    await Promise.all(
      [JOB_A, JOB_B, JOB_C].map((j) => bothNodes((n, r) => setup(n, "delete", jobEnv(j, r)))),
    );
    expect(await bothNodes((n) => snapshot(n))).toEqual(before);
    expect(await etcdState()).toEqual(etcdBefore);
  });

  it("a create that fails half-way removes what it made and frees its allocations", async () => {
    const job = JOB_A + 2;
    const single = {
      ...jobEnv(job, 0),
      SLURM_JOB_NODELIST: "node1",
      SLURM_STEP_NUM_NODES: "1",
      SLURM_TASKS_PER_NODE: "2",
      PCOCC_STEP_LOCAL_TASKS: "2",
    };
    const r = await nodeExec(
      lab.nodes[0]!,
      [join(repo, "bin", "pcocc"), "internal", "setup", "create", "--ovsdb-socket", "/nonexistent/db.sock"],
      {
        env: { PCOCC_SYSTEM_CONF_DIR: lab.pcoccConfDir, ...single },
      },
    );
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("cannot connect to Open vSwitch database at /nonexistent/db.sock");
    expect((await ks.get(`/pcocc/cluster/${job}/state/hosts/0`))?.value).toMatchObject({ state: "failed" });
    expect(await snapshot(lab.nodes[0]!)).toEqual(before[0]);
    await setup(lab.nodes[0]!, "delete", single);
    expect(await etcdState()).toEqual(etcdBefore);
  });

  it("delete -j (an admin's manual cleanup) removes a dead job's setup as its records describe it", async () => {
    const job = JOB_A + 3;
    const deleteJ = (node: LabNode, env: Record<string, string>) =>
      nodeExec(node, [join(repo, "bin", "pcocc"), "internal", "setup", "delete", "-j", String(job)], {
        env: { PCOCC_SYSTEM_CONF_DIR: lab.pcoccConfDir, SLURM_CONF: lab.slurmConf, ...env },
        timeoutMs: 120_000,
      });
    // compared with the state just before (not `before`): earlier cases may have left their own differences
    const start = await bothNodes((n) => snapshot(n));
    const etcdStart = await etcdState();
    await bothNodes((n, r) => setup(n, "create", jobEnv(job, r)));
    expect(await bothNodes((n) => snapshot(n))).not.toEqual(start);
    // with a step's environment the job is slurmstepd's: -j must not name another one
    const mixed = await deleteJ(lab.nodes[0]!, jobEnv(job, 0));
    expect(mixed.code).toBe(255);
    expect(mixed.stderr).toContain("-j/--jobid is for manual cleanup outside a SLURM step");
    const done = await bothNodes((n) => deleteJ(n, {}));
    // (node may warn on stderr about the lab's etcd TLS name; pcocc itself says nothing)
    expect(done.map((r) => [r.code, r.stderr.includes("pcocc:")])).toEqual([
      [0, false],
      [0, false],
    ]);
    expect(await bothNodes((n) => snapshot(n))).toEqual(start);
    expect(await etcdState()).toEqual(etcdStart);
    const again = await deleteJ(lab.nodes[0]!, {});
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`No network setup of job ${job} on this node\n`);
  });

  it("cleanup succeeds twice in a row and removes the node-level objects; init restores them", async () => {
    // Leftovers of a crashed job that never wrote a record: pcocc-named link, OVS bridge, nftables table
    // and namespace.
    const dead = JOB_A + 5;
    await on(lab.nodes[0]!, [
      "sh",
      "-ec",
      `ip link add nat_tap77 type bridge; ovs-vsctl add-br nat_br77 -- set bridge nat_br77 datapath_type=netdev
       nft add table ip pcocc_j${dead}; ip netns add pcocc_j${dead}n0_nat-rssh`,
    ]);
    await bothNodes((n) => setup(n, "cleanup", { SLURM_CONF: lab.slurmConf }));
    // Listed in the same breath: other suites' jobs on the shared lab run `setup init` at any time.
    const tables = await on(lab.nodes[0]!, [
      "sh",
      "-ec",
      `PCOCC_SYSTEM_CONF_DIR=${lab.pcoccConfDir} SLURM_CONF=${lab.slurmConf} ${join(repo, "bin", "pcocc")} internal setup cleanup; nft list tables`,
    ]);
    expect(tables).not.toMatch(/^table ip pcocc$/m);
    const left = await on(lab.nodes[0]!, [
      "sh",
      "-c",
      "ls /run/netns; nft list tables; ip -o link; ovs-vsctl list-br",
    ]);
    for (const name of [`pcocc_j${dead}n0_nat-rssh`, `pcocc_j${dead}`, "nat_tap77", "nat_br77"])
      expect(left).not.toContain(name);
    await bothNodes((n) => setup(n, "init"));
    expect(await bothNodes((n) => snapshot(n))).toEqual(before);
  });
});
