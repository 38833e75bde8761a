import { describe, expect, it } from "vitest";
import type { PcoccConfig } from "../../../src/config/index.js";
import { MAX_ROUTER_NODES, netmask, reservedMac, routerMac, vmMac } from "../../../src/net/addressing.js";
import {
  jobNetworks,
  planInit,
  planNode,
  type JobSpec,
  type NodeFacts,
  type Step,
} from "../../../src/net/plan.js";

const eth = (name: string, settings: Record<string, unknown>): unknown => ({
  name,
  type: "ethernet",
  settings: {
    "network-layer": "L3",
    "int-network": "10.251.0.0/16",
    "ext-network": "10.250.0.0/16",
    "mac-prefix": "52:54:00",
    "mac-start-offset": 0,
    "host-if-suffix": "",
    mtu: 1500,
    "allow-outbound": "all",
    "manage-ip-forward": true,
    "datapath-type": "netdev",
    ...settings,
  },
});

const config = {
  networks: {
    "nat-rssh": eth("nat-rssh", {
      "dev-prefix": "nat",
      "reverse-nat": { "vm-port": 22, "min-host-port": 60222, "max-host-port": 60224 },
      "domain-name": "lab.test",
    }),
    pv: eth("pv", { "dev-prefix": "pv", "network-layer": "L2", "mac-prefix": "52:54:01" }),
    ib: { name: "ib", type: "infiniband", settings: {} },
  },
  resourceSets: {
    default: { name: "default", networks: ["nat-rssh"] },
    cluster: { name: "cluster", networks: ["nat-rssh", "pv"] },
    l2: { name: "l2", networks: ["pv"] },
    withib: { name: "withib", networks: ["ib"] },
  },
} as unknown as PcoccConfig;

const job = (over: Partial<JobSpec> = {}): JobSpec => ({
  jobId: 42,
  user: "alice",
  uid: 1001,
  gid: 1001,
  nodeRank: 0,
  nodes: ["node1", "node2"],
  vmsPerNode: [1, 1],
  resourceDefinition: "default:2",
  ...over,
});

const facts = (over: Partial<NodeFacts> = {}): NodeFacts => ({
  nodeAddrs: ["10.231.0.11", "10.231.0.12"],
  usedLinkNames: [],
  usedHostPorts: [],
  hostDomain: "",
  runDir: "/run/pcocc",
  ...over,
});

const opsOf = (steps: Step[], netns?: string): Array<Record<string, unknown>> =>
  steps.flatMap((s) =>
    s.kind === "ops" && s.netns === netns ? (s.ops as Array<Record<string, unknown>>) : [],
  );

describe("addressing", () => {
  it("derives MACs from the prefix and the VM index, with reserved top addresses", () => {
    expect(vmMac("52:54:00", 0)).toBe("52:54:00:00:00:00");
    expect(vmMac("52:54:00", 258)).toBe("52:54:00:00:01:02");
    expect(vmMac("52:54:00:AB", 1)).toBe("52:54:00:ab:00:01");
    expect(reservedMac("52:54:00", "fe")).toBe("52:54:00:ff:ff:fe");
    expect(reservedMac("52:54", "fd")).toBe("52:54:ff:ff:ff:fd");
    expect(netmask(16)).toBe("255.255.0.0");
    expect(netmask(0)).toBe("0.0.0.0");
    expect(() => vmMac("52:54:00:00", 65533)).toThrow(/no room/);
  });

  it("gives every node's router its own MAC, distinct from DHCP/DNS and from every VM", () => {
    expect(routerMac("52:54:00", 0)).toBe("52:54:00:ff:ff:fe");
    expect(routerMac("52:54:00", 1)).toBe("52:54:00:ff:ff:fc");
    const routers = new Set(Array.from({ length: MAX_ROUTER_NODES }, (_, r) => routerMac("52:54:00:00", r)));
    expect(routers.size).toBe(MAX_ROUTER_NODES);
    expect(routers.has(reservedMac("52:54:00:00", "fd"))).toBe(false);
    const lastVm = 65536 - 4 - MAX_ROUTER_NODES;
    expect(routers.has(vmMac("52:54:00:00", lastVm))).toBe(false);
    expect(() => vmMac("52:54:00:00", lastVm + 1)).toThrow(/no room/);
    expect(() => routerMac("52:54:00", MAX_ROUTER_NODES)).toThrow(/at most/);
  });
});

describe("jobNetworks", () => {
  it("numbers VMs per network in rank order and picks the lowest node as master", () => {
    const nets = jobNetworks(config, job({ resourceDefinition: "default:1,cluster:2", vmsPerNode: [1, 2] }));
    const nat = nets.find((n) => n.net.name === "nat-rssh")!;
    const pv = nets.find((n) => n.net.name === "pv")!;
    expect(nat.vms).toEqual([
      { rank: 0, k: 0, node: 0 },
      { rank: 1, k: 1, node: 1 },
      { rank: 2, k: 2, node: 1 },
    ]);
    expect(pv.vms).toEqual([
      { rank: 1, k: 0, node: 1 },
      { rank: 2, k: 1, node: 1 },
    ]);
    expect(pv.master).toBe(1);
    expect(pv.nodes).toEqual([1]);
  });

  it("rejects inconsistent or unsupported inputs with a clear error", () => {
    expect(() => jobNetworks(config, job({ vmsPerNode: [1, 2] }))).toThrow(
      /2 VMs but the job places 3 tasks/,
    );
    expect(() => jobNetworks(config, job({ resourceDefinition: "nope:2" }))).toThrow(
      /unknown resource set 'nope'/,
    );
    expect(() => jobNetworks(config, job({ resourceDefinition: "withib:2" }))).toThrow(
      /type infiniband is not supported/,
    );
    expect(() => jobNetworks(config, job({ resourceDefinition: "default:x" }))).toThrow(
      /invalid resource definition/,
    );
  });
});

describe("planNode (L3, two nodes)", () => {
  const allocs = { "nat-rssh": { vni: 1024, extIds: [5] } };
  const master = planNode(config, job(), facts({ usedHostPorts: [60222] }), allocs);
  const other = planNode(config, job({ nodeRank: 1 }), facts(), { "nat-rssh": { vni: 1024, extIds: [6] } });

  it("gives vm0 the first address and MAC, a user-owned tap and a free host port", () => {
    expect(master.published["nat-rssh"]!["vm-0"]).toEqual({
      tap: "nat_tap0",
      mac: "52:54:00:00:00:00",
      ip: "10.251.0.1",
      "ext-ip": "10.250.0.6",
      hostPort: 60223,
      "domain-name": "lab.test",
    });
    expect(other.published["nat-rssh"]!["vm-1"]).toMatchObject({
      mac: "52:54:00:00:00:01",
      ip: "10.251.0.2",
      hostPort: 60222,
    });
    expect(opsOf(master.steps)).toContainEqual({
      op: "tapAdd",
      name: "nat_tap0",
      uid: 1001,
      gid: 1001,
      mtu: 1500,
      up: true,
      group: 42,
    });
    expect(master.rnat).toEqual([{ rank: 0, vmPort: 22, hostPort: 60223 }]);
  });

  it("tunnels to the peer node only, filtered by VNI and source", () => {
    const ops = opsOf(master.steps);
    expect(ops).toContainEqual(
      expect.objectContaining({
        op: "linkAdd",
        kind: "vxlan",
        name: "nat_vx0",
        vni: 1024,
        local: "10.231.0.11",
      }),
    );
    expect(ops.filter((o) => o.op === "fdbAppend")).toEqual([
      { op: "fdbAppend", name: "nat_vx0", dst: "10.231.0.12" },
    ]);
    const nft = JSON.stringify(master.steps.find((s) => s.kind === "nft" && !s.netns));
    expect(nft).toContain('"table":"pcocc_j42"');
    expect(nft).toContain('{"set":["10.231.0.12"]}');
    expect(nft).toContain('"right":1024');
    expect(nft).toContain('{"dnat":{"addr":"10.250.0.6","port":22}}');
    // Only the peer's tunnel device sends this VNI: privileged source ports, which the device uses too.
    expect(nft).toContain('"field":"sport"}},"right":{"range":[512,1023]}');
    expect(ops).toContainEqual(
      expect.objectContaining({ name: "nat_vx0", srcPortMin: 512, srcPortMax: 1023 }),
    );
    const bridge = master.steps.find((s) => s.kind === "ovs-bridge");
    expect(bridge).toEqual({
      kind: "ovs-bridge",
      bridge: {
        name: "nat_br0",
        datapathType: "netdev",
        ports: [
          { name: "nat_tap0", type: "" },
          { name: "nat_vx0", type: "", protected: true },
          { name: "nat_vg0", type: "", protected: true },
          { name: "nat_vd0", type: "" },
        ],
      },
    });
  });

  it("runs DHCP/DNS on the master node only, with every VM of the network", () => {
    const daemon = master.steps.find((s) => s.kind === "daemon");
    expect(daemon).toMatchObject({
      netns: "pcocc_j42n0_nat-rssh_dns",
      pidFile: "/run/pcocc/job-42/nat-rssh.dnsmasq.pid",
    });
    expect(daemon && "argv" in daemon && daemon.argv).toEqual(
      expect.arrayContaining([
        "/usr/sbin/dnsmasq",
        "--listen-address=10.251.255.253",
        "--dhcp-option=option:router,10.251.255.254",
        "--domain=lab.test",
        "--user=nobody",
      ]),
    );
    const files = master.steps.filter((s) => s.kind === "file");
    expect(files).toEqual([
      {
        kind: "file",
        path: "/run/pcocc/job-42/nat-rssh.hosts",
        owner: "nobody",
        content: "10.251.0.1 vm0.lab.test vm0\n10.251.0.2 vm1.lab.test vm1\n",
      },
      {
        kind: "file",
        path: "/run/pcocc/job-42/nat-rssh.dhcp",
        owner: "nobody",
        content: "52:54:00:00:00:00,10.251.0.1,vm0,infinite\n52:54:00:00:00:01,10.251.0.2,vm1,infinite\n",
      },
    ]);
    expect(other.steps.some((s) => s.kind === "daemon")).toBe(false);
    expect(other.record.netns).toEqual(["pcocc_j42n1_nat-rssh"]);
  });

  it("routes each VM's external address to the router namespace, which does the 1:1 NAT", () => {
    expect(opsOf(master.steps)).toContainEqual({ op: "routeAdd", dst: "10.250.0.6/32", dev: "nat_vu0" });
    expect(opsOf(master.steps)).toContainEqual({
      op: "addrAdd",
      dev: "nat_vu0",
      address: "10.250.255.254/32",
    });
    const router = opsOf(master.steps, "pcocc_j42n0_nat-rssh");
    expect(router).toContainEqual({ op: "linkSet", name: "int0", mac: "52:54:00:ff:ff:fe", up: true });
    expect(router).toContainEqual({ op: "addrAdd", dev: "int0", address: "10.251.255.254/16" });
    expect(router).toContainEqual({
      op: "routeAdd",
      dst: "default",
      via: "10.250.255.254",
      dev: "ext0",
      onlink: true,
    });
    const nat = JSON.stringify(
      master.steps.find((s) => s.kind === "nft" && s.netns === "pcocc_j42n0_nat-rssh"),
    );
    expect(nat).toContain('{"snat":{"addr":"10.250.0.6","port":{"range":[1024,65535]}}}');
    expect(nat).toContain('{"masquerade":{"port":{"range":[1024,65535]}}}');
    expect(nat).toContain('{"dnat":{"addr":"10.251.0.1"}}');
  });

  it("records everything it makes, and avoids names in use", () => {
    expect(master.record).toEqual({
      jobId: 42,
      nodeRank: 0,
      user: "alice",
      dir: "/run/pcocc/job-42",
      links: ["nat_tap0", "nat_vx0", "nat_vg0", "nat_vu0", "nat_vd0"],
      netns: ["pcocc_j42n0_nat-rssh", "pcocc_j42n0_nat-rssh_dns"],
      bridges: ["nat_br0"],
      nftTables: ["pcocc_j42"],
      pidFiles: ["/run/pcocc/job-42/nat-rssh.dnsmasq.pid"],
      hostPorts: [60223],
      linkGroup: 42,
      extIds: { "nat-rssh": [5] },
      vnis: { "nat-rssh": 1024 },
      keys: ["rnat/0/22", "nat-rssh/0"],
    });
    const busy = planNode(
      config,
      job(),
      facts({ usedLinkNames: ["nat_tap0", "nat_br0", "nat_br1"] }),
      allocs,
    );
    expect(busy.record.links[0]).toBe("nat_tap1");
    expect(busy.record.bridges).toEqual(["nat_br2"]);
  });

  it("fails when the node has no reverse NAT port left", () => {
    expect(() => planNode(config, job(), facts({ usedHostPorts: [60222, 60223, 60224] }), allocs)).toThrow(
      /no free reverse NAT host port/,
    );
  });
});

describe("planNode (L2) and planInit", () => {
  it("makes only a bridge, taps and the tunnel for an L2 network", () => {
    const plan = planNode(config, job({ resourceDefinition: "l2:2" }), facts(), {
      pv: { vni: 1030, extIds: [] },
    });
    expect(plan.record.netns).toEqual([]);
    expect(plan.record.links).toEqual(["pv_tap0", "pv_vx0"]);
    expect(plan.published.pv!["vm-0"]).toEqual({ tap: "pv_tap0", mac: "52:54:01:00:00:00" });
    expect(plan.steps.some((s) => s.kind === "daemon")).toBe(false);
  });

  it("a single-node job has no tunnel at all", () => {
    const plan = planNode(config, job({ resourceDefinition: "l2:2", vmsPerNode: [2, 0] }), facts(), {
      pv: { vni: 1030, extIds: [] },
    });
    expect(plan.record.links).toEqual(["pv_tap0", "pv_tap1"]);
    expect(plan.record.nftTables).toEqual([]);
  });

  it("uses OVS vxlan ports per peer on the kernel datapath", () => {
    const sys = {
      ...config,
      networks: {
        ...config.networks,
        pv: eth("pv", { "dev-prefix": "pv", "network-layer": "L2", "datapath-type": "system" }),
      },
    } as unknown as PcoccConfig;
    const plan = planNode(sys, job({ resourceDefinition: "l2:2" }), facts(), {
      pv: { vni: 1030, extIds: [] },
    });
    const bridge = plan.steps.find((s) => s.kind === "ovs-bridge");
    expect(bridge && "bridge" in bridge && bridge.bridge.ports[1]).toEqual({
      name: "pv_br0_1",
      type: "vxlan",
      options: { remote_ip: "10.231.0.12", key: "1030", local_ip: "10.231.0.11" },
      protected: true,
    });
  });

  it("init masquerades and isolates each L3 external network", () => {
    const { doc, forwarding } = planInit(config);
    expect(forwarding).toBe(true);
    const s = JSON.stringify(doc);
    expect(s).toContain('{"prefix":{"addr":"10.250.0.0","len":16}}');
    expect(s).toContain('"masquerade":null');
    const doc2 = doc as { nftables: Array<{ add?: { rule?: { chain: string; expr: unknown[] } } }> };
    const rules = (chain: string): string[] =>
      doc2.nftables.filter((c) => c.add?.rule?.chain === chain).map((c) => JSON.stringify(c.add!.rule!.expr));
    // TCP/UDP from VMs never leaves with a privileged source port.
    expect(rules("postrouting")[0]).toContain('{"masquerade":{"port":{"range":[1024,65535]}}}');
    expect(rules("postrouting")[0]).toContain('{"set":["tcp","udp"]}');
    // Nothing from the VMs' external addresses reaches the node itself, except replies.
    expect(rules("input")).toHaveLength(2);
    expect(rules("input")[0]).toContain('"established","related"');
    expect(rules("input")[1]).toContain('{"drop":null}');
    expect(rules("output")[0]).toContain('"skuid"');
    expect(rules("forward").some((r) => r.includes('"dport"}},"right":4789'))).toBe(true);
  });
});

describe("pcocc's pv and nat on the ethernet machinery", () => {
  const legacy = {
    networks: {
      ...config.networks,
      "seed-nat": {
        name: "seed-nat",
        type: "nat",
        settings: {
          "nat-network": "10.253.0.0/16",
          "vm-network": "10.252.0.0/24",
          "vm-network-gw": "10.252.0.1",
          "vm-ip": "10.252.0.2",
          "vm-hwaddr": "52:54:00:44:AE:5E",
          "bridge-hwaddr": "52:54:00:C0:C0:C0",
          bridge: "natbr",
          "tap-prefix": "nattap",
          mtu: 1500,
          "domain-name": "seed.test",
          "dns-server": "10.231.0.1",
          "ntp-server": "10.231.0.2",
          "reverse-nat": { "vm-port": 22, "min-host-port": 60222, "max-host-port": 60322 },
          "allow-outbound": "all",
          "datapath-type": "netdev",
        },
      },
      "seed-pv": {
        name: "seed-pv",
        type: "pv",
        settings: {
          "bridge-prefix": "pvbr",
          "tap-prefix": "pvtap",
          "mac-prefix": "52:54:02",
          mtu: 1400,
          "host-if-suffix": "",
          "datapath-type": "netdev",
        },
      },
    },
    resourceSets: { seed: { name: "seed", networks: ["seed-nat", "seed-pv"] } },
  } as unknown as PcoccConfig;
  const seedJob = job({ resourceDefinition: "seed:3", vmsPerNode: [2, 1] });
  const plan = planNode(legacy, seedJob, facts({ usedHostPorts: [60222] }), {
    "seed-nat": { vni: 0, extIds: [7, 9] },
    "seed-pv": { vni: 1040, extIds: [] },
  });

  it("nat: every VM sees pcocc's fixed address, gateway and MAC, each on a segment of its own", () => {
    const nics = plan.published["seed-nat"]!;
    expect(nics).toEqual({
      "vm-0": {
        tap: "nattap0",
        mac: "52:54:00:44:ae:5e",
        ip: "10.252.0.2",
        "ext-ip": "10.253.0.8",
        hostPort: 60223,
        "domain-name": "seed.test",
      },
      "vm-1": {
        tap: "nattap1",
        mac: "52:54:00:44:ae:5e",
        ip: "10.252.0.2",
        "ext-ip": "10.253.0.10",
        hostPort: 60224,
        "domain-name": "seed.test",
      },
    });
    expect(plan.record.bridges.filter((b) => b.startsWith("natbr"))).toEqual(["natbr0", "natbr1"]);
    const bridges = plan.steps.flatMap((s) => (s.kind === "ovs-bridge" ? [s.bridge] : []));
    const natBridges = bridges.filter((b) => b.name.startsWith("natbr"));
    // one VM, its router and its DHCP per bridge; no tunnel
    expect(natBridges.map((b) => b.ports.map((p) => p.name))).toEqual([
      ["nattap0", "nattap_vg0", "nattap_vd0"],
      ["nattap1", "nattap_vg1", "nattap_vd1"],
    ]);
    const router = opsOf(plan.steps, "pcocc_j42n0_seed-nat_vm1");
    expect(router).toContainEqual({ op: "linkSet", name: "int0", mac: "52:54:00:c0:c0:c0", up: true });
    expect(router).toContainEqual({ op: "addrAdd", dev: "int0", address: "10.252.0.1/24" });
    expect(plan.record.netns).toContain("pcocc_j42n0_seed-nat_vm1_dns");
    expect(plan.record.extIds).toEqual({ "seed-nat": [7, 9] });
    expect(plan.record.vnis).toEqual({ "seed-pv": 1040 });
    expect(plan.rnat).toEqual([
      { rank: 0, vmPort: 22, hostPort: 60223 },
      { rank: 1, vmPort: 22, hostPort: 60224 },
    ]);
    expect(plan.published["seed-nat"]).not.toHaveProperty("global");
  });

  it("nat: DHCP gives the VM its fixed address, vmN, the domain, DNS and NTP servers", () => {
    const daemons = plan.steps.filter((s) => s.kind === "daemon");
    expect(daemons).toHaveLength(2);
    const argv = daemons[1]!.kind === "daemon" ? daemons[1]!.argv : [];
    expect(argv).toEqual(
      expect.arrayContaining([
        "--listen-address=10.252.0.254",
        "--dhcp-option=option:router,10.252.0.1",
        "--dhcp-option=option:netmask,255.255.255.0",
        "--dhcp-range=10.252.0.0,static",
        "--domain=seed.test",
        "--server=10.231.0.1",
        "--dhcp-option=option:ntp-server,10.231.0.2",
        "--pid-file=/run/pcocc/job-42/seed-nat_vm1.dnsmasq.pid",
      ]),
    );
    const files = plan.steps.filter((s) => s.kind === "file" && s.path.includes("seed-nat_vm1"));
    expect(files.map((f) => f.kind === "file" && f.content)).toEqual([
      "10.252.0.2 vm1.seed.test vm1\n",
      "52:54:00:44:ae:5e,10.252.0.2,vm1,infinite\n",
    ]);
  });

  it("pv: an L2 network over the job's VXLAN, pcocc's names, no address, DHCP or router", () => {
    expect(plan.published["seed-pv"]).toEqual({
      "vm-0": { tap: "pvtap0", mac: "52:54:02:00:00:00" },
      "vm-1": { tap: "pvtap1", mac: "52:54:02:00:00:01" },
      global: { int_br_name: "pvbr0", master: 0 },
    });
    const ops = opsOf(plan.steps);
    expect(ops).toContainEqual(
      expect.objectContaining({ op: "linkAdd", kind: "vxlan", name: "pvtap_vx0", vni: 1040, mtu: 1400 }),
    );
    expect(ops).toContainEqual({ op: "fdbAppend", name: "pvtap_vx0", dst: "10.231.0.12" });
    expect(plan.record.netns.some((n) => n.includes("seed-pv"))).toBe(false);
    // the job's table guards the pv VNI like an ethernet one
    const nft = JSON.stringify(plan.steps.find((s) => s.kind === "nft" && !s.netns));
    expect(nft).toContain('"right":1040');
    expect(nft).toContain('"field":"sport"}},"right":{"range":[512,1023]}');
  });

  it("the node on which a nat VM does not run makes nothing for it", () => {
    const other = planNode(legacy, { ...seedJob, nodeRank: 1 }, facts(), {
      "seed-nat": { vni: 0, extIds: [11] },
      "seed-pv": { vni: 1040, extIds: [] },
    });
    expect(Object.keys(other.published["seed-nat"]!)).toEqual(["vm-2"]);
    expect(other.record.vnis).toEqual({});
    expect(() =>
      planNode(legacy, { ...seedJob, nodeRank: 1 }, facts(), {
        "seed-nat": { vni: 0, extIds: [] },
        "seed-pv": { vni: 1040, extIds: [] },
      }),
    ).toThrow(/wrong number of external addresses/);
  });

  it("init NATs nat-network like an ext network, and no L3 network reaches another's", () => {
    const { doc, forwarding } = planInit(legacy);
    expect(forwarding).toBe(true);
    const forward = (
      doc as { nftables: Array<{ add?: { rule?: { chain: string; expr: unknown[] } } }> }
    ).nftables
      .filter((c) => c.add?.rule?.chain === "forward")
      .map((c) => JSON.stringify(c.add!.rule!.expr));
    const ext = (a: string): string => `{"prefix":{"addr":"${a}","len":16}}`;
    const drops = (from: string, to: string): boolean =>
      forward.some(
        (r) =>
          r.includes(`"saddr"}},"right":${ext(from)}`) &&
          r.includes(`"daddr"}},"right":${ext(to)}`) &&
          r.includes('"drop"'),
      );
    for (const [from, to] of [
      ["10.250.0.0", "10.253.0.0"],
      ["10.253.0.0", "10.250.0.0"],
      ["10.253.0.0", "10.253.0.0"],
      ["10.250.0.0", "10.250.0.0"],
    ])
      expect(drops(from!, to!), `${from} -> ${to}`).toBe(true);
  });
});
