import { describe, expect, it } from "vitest";
import { expectOneIssue, issuesOf, load } from "./fixture.js";

const RESOURCES = "default:\n  networks: []\n  default: true\n";

/** networks.yaml holding one network `n`; resources.yaml emptied so only networks.yaml is judged. */
function net(type: string, settings: string): Record<string, string> {
  return { "networks.yaml": `n:\n  type: ${type}\n  settings:\n${settings}`, "resources.yaml": RESOURCES };
}

async function loadNet(type: string, settings: string) {
  return (await load(net(type, settings))).networks.n;
}

describe("networks.yaml: valid documents of every type", () => {
  it("ethernet (and its eth alias) with defaults filled in", async () => {
    const n = await loadNet("eth", "    dev-prefix: nat\n");
    expect(n).toEqual({
      name: "n",
      type: "ethernet",
      settings: {
        "dev-prefix": "nat",
        "network-layer": "L3",
        "int-network": "10.200.0.0/16",
        "ext-network": "10.201.0.0/16",
        "mac-prefix": "52:54:00",
        "mac-start-offset": 0,
        "host-if-suffix": "",
        mtu: 1500,
        "allow-outbound": "all",
        "manage-ip-forward": true,
        "datapath-type": "system",
      },
    });
  });
  it("infiniband with pkeys quoted or not", async () => {
    const n = await loadNet(
      "ib",
      "    host-device: mlx5_0\n    min-pkey: 0x2000\n    max-pkey: '0x3000'\n    opensm-daemon: opensm\n" +
        "    opensm-partition-cfg: /a\n    opensm-partition-tpl: /b\n",
    );
    expect(n?.type).toBe("infiniband");
    expect(n?.type === "infiniband" && [n.settings["min-pkey"], n.settings["max-pkey"]]).toEqual([
      0x2000, 0x3000,
    ]);
  });
  it("host-infiniband, bridged-ethernet, genericpci, pv and nat", async () => {
    expect((await loadNet("hostib", "    host-device: mlx5_0\n"))?.type).toBe("host-infiniband");
    const bridged = await loadNet(
      "bridged",
      "    host-bridge: br0\n    tap-prefix: tap\n    vlans:\n      - {vid: 10, type: tagged}\n",
    );
    expect(bridged?.type).toBe("bridged-ethernet");
    const pci = await loadNet(
      "genericpci",
      "    host-device-addrs: ['0000:03:00.0', '04:00.1']\n    host-driver: vfio-pci\n",
    );
    expect(pci?.type).toBe("genericpci");
    expect((await loadNet("pv", "    bridge-prefix: pvbr\n    tap-prefix: pvtap\n"))?.type).toBe("pv");
    const nat = await loadNet(
      "nat",
      "    nat-network: 10.250.0.0/16\n    vm-network: 10.252.0.0/16\n    vm-network-gw: 10.252.0.1\n" +
        "    vm-ip: 10.252.0.2\n    bridge: natbr\n    tap-prefix: nattap\n",
    );
    expect(nat?.type === "nat" && nat.settings["vm-hwaddr"]).toBe("52:54:00:44:AE:5E");
  });
  it("accepts an ext network larger than the int network (pcocc wrongly refused it)", async () => {
    const n = await loadNet(
      "ethernet",
      "    dev-prefix: a\n    int-network: 10.0.0.0/16\n    ext-network: 10.2.0.0/15\n",
    );
    expect(n?.type).toBe("ethernet");
  });
});

describe("networks.yaml: invalid documents", () => {
  const at = (line: number, keyPath: string, message: string) => ({
    file: "system:networks.yaml",
    line,
    keyPath,
    message,
  });
  it("unknown type, quoted", async () => {
    const issues = await issuesOf(net("vxlan", "    a: 1\n"));
    expect(issues.map((i) => [i.keyPath, i.message])).toEqual([
      ["n.type", expect.stringMatching(/^unknown network type \(one of [a-z, -]+\) \(got 'vxlan'\)$/)],
    ]);
  });
  it("bad network name", () =>
    expectOneIssue(
      {
        system: {
          "networks.yaml": "1n:\n  type: eth\n  settings: {dev-prefix: a}\n",
          "resources.yaml": RESOURCES,
        },
      },
      at(1, "1n", "invalid network name"),
    ));
  it("unknown key at network level", () =>
    expectOneIssue(
      {
        system: {
          ...net("hostib", "    host-device: a\n"),
          "networks.yaml": "n:\n  type: hostib\n  settings: {host-device: a}\n  mtu: 9000\n",
        },
      },
      at(4, "n.mtu", "unknown key"),
    ));
  it("unknown setting", () =>
    expectOneIssue(
      { system: net("ethernet", "    dev-prefix: a\n    gatway: x\n") },
      at(5, "n.settings.gatway", "unknown key"),
    ));
  it("missing required setting", () =>
    expectOneIssue(
      { system: net("ethernet", "    mtu: 1500\n") },
      at(3, "n.settings.dev-prefix", "required key is missing"),
    ));
  it("malformed CIDR", () =>
    expectOneIssue(
      { system: net("ethernet", "    dev-prefix: a\n    int-network: 10.200.0.0/33\n") },
      at(5, "n.settings.int-network", "not a network in CIDR notation"),
    ));
  it("CIDR with host bits set", () =>
    expectOneIssue(
      { system: net("ethernet", "    dev-prefix: a\n    int-network: 10.200.0.1/16\n") },
      at(5, "n.settings.int-network", "host bits zero"),
    ));
  it("ext network smaller than int network, with a formatted message", () =>
    expectOneIssue(
      {
        system: net(
          "ethernet",
          "    dev-prefix: a\n    int-network: 10.0.0.0/16\n    ext-network: 10.1.0.0/17\n",
        ),
      },
      at(6, "n.settings.ext-network", "ext-network 10.1.0.0/17 is smaller than int-network 10.0.0.0/16"),
    ));
  it("malformed MAC prefix", () =>
    expectOneIssue(
      { system: net("ethernet", "    dev-prefix: a\n    mac-prefix: 52:54:00:00:00\n") },
      at(5, "n.settings.mac-prefix", "not a MAC prefix"),
    ));
  it("bad dev-prefix", () =>
    expectOneIssue(
      { system: net("ethernet", "    dev-prefix: much-too-long\n") },
      at(
        4,
        "n.settings.dev-prefix",
        "must be a letter then up to 7 letters, digits or _ (got 'much-too-long')",
      ),
    ));
  it("inverted reverse-NAT port range", () =>
    expectOneIssue(
      {
        system: net(
          "ethernet",
          "    dev-prefix: a\n    reverse-nat:\n      vm-port: 22\n      min-host-port: 60322\n      max-host-port: 60222\n",
        ),
      },
      at(
        7,
        "n.settings.reverse-nat.min-host-port",
        "min-host-port (60322) is greater than max-host-port (60222)",
      ),
    ));
  it("reverse-NAT ports out of range", async () => {
    const issues = await issuesOf(
      net(
        "ethernet",
        "    dev-prefix: a\n    reverse-nat: {vm-port: 22, min-host-port: 0, max-host-port: 70000}\n",
      ),
    );
    expect(issues.map((i) => [i.line, i.keyPath, i.message])).toEqual([
      [5, "n.settings.reverse-nat.min-host-port", "must be greater than or equal to 1 (got 0)"],
      [5, "n.settings.reverse-nat.max-host-port", "must be less than or equal to 65535 (got 70000)"],
    ]);
  });
  it("reverse-NAT missing a port", () =>
    expectOneIssue(
      { system: net("ethernet", "    dev-prefix: a\n    reverse-nat: {vm-port: 22, min-host-port: 1}\n") },
      at(5, "n.settings.reverse-nat.max-host-port", "required key is missing"),
    ));
  it("bad enum values", () =>
    expectOneIssue(
      { system: net("ethernet", "    dev-prefix: a\n    datapath-type: dpdk\n") },
      at(5, "n.settings.datapath-type", '"dpdk" is not one of system, netdev'),
    ));
  it("inverted pkey range", () =>
    expectOneIssue(
      {
        system: net(
          "ib",
          "    host-device: a\n    min-pkey: 0x3000\n    max-pkey: 0x2000\n    opensm-daemon: o\n" +
            "    opensm-partition-cfg: /a\n    opensm-partition-tpl: /b\n",
        ),
      },
      at(5, "n.settings.min-pkey", "min-pkey (0x3000) is greater than max-pkey (0x2000)"),
    ));
  it("bad PCI address", () =>
    expectOneIssue(
      { system: net("genericpci", "    host-device-addrs: [0000:03:00]\n    host-driver: vfio-pci\n") },
      at(4, "n.settings.host-device-addrs[0]", "not a PCI address"),
    ));
  it("bad VLAN entry", () =>
    expectOneIssue(
      {
        system: net(
          "bridged",
          "    host-bridge: br0\n    tap-prefix: t\n    vlans:\n      - {vid: 5000, type: tagged}\n",
        ),
      },
      at(7, "n.settings.vlans[0].vid", "less than or equal to 4095"),
    ));
  it("bad IPv4 address", () =>
    expectOneIssue(
      { system: net("ethernet", "    dev-prefix: a\n    dns-server: 10.0.0.256\n") },
      at(5, "n.settings.dns-server", "not an IPv4 address"),
    ));
});

describe("networks.yaml: pcocc's nat and pv as the seed writes them", () => {
  // The getting-started guide's networks.yaml (shared/seeds/001): nat-rssh and pv, the keys it prints
  // and the rest of pcocc's nat/pv keys.
  const SEED = `nat-rssh:
  type: nat
  settings:
    nat-network: "10.250.0.0/16"
    vm-network: "10.252.0.0/24"
    vm-network-gw: "10.252.0.1"
    vm-ip: "10.252.0.2"
    vm-hwaddr: "52:54:00:44:AE:5E"
    bridge: "natbr"
    bridge-hwaddr: "52:54:00:C0:C0:C0"
    tap-prefix: "nattap"
    mtu: 1500
    domain-name: "domain.name.com"
    dns-server: "0.0.0.0"
    ntp-server: "0.0.0.0"
    allow-outbound: all
    reverse-nat:
      vm-port: 22
      min-host-port: 60222
      max-host-port: 60322
pv:
  type: pv
  settings:
    mac-prefix: "52:54:01"
    bridge-prefix: "pvbr"
    tap-prefix: "pvtap"
    mtu: 1500
    host-if-suffix: ""
`;
  const resources = "cluster:\n  networks: [nat-rssh, pv]\n  default: true\n";

  it("loads with nothing to report, not even as unsupported", async () => {
    const c = await load({ "networks.yaml": SEED, "resources.yaml": resources });
    expect(c.unsupported.networks).toEqual({});
    expect(c.networks["nat-rssh"]?.type).toBe("nat");
    expect(c.networks.pv?.type).toBe("pv");
  });

  const nat = (over: string): Record<string, string> =>
    net(
      "nat",
      "    nat-network: 10.250.0.0/16\n    vm-network: 10.252.0.0/24\n    bridge: natbr\n    tap-prefix: nattap\n" +
        over,
    );
  const natAt = (line: number, key: string, message: string) => ({
    file: "system:networks.yaml",
    line,
    keyPath: `n.settings.${key}`,
    message,
  });
  it("a VM address outside vm-network", () =>
    expectOneIssue(
      { system: nat("    vm-network-gw: 10.252.0.1\n    vm-ip: 10.252.1.2\n") },
      natAt(9, "vm-ip", "vm-ip 10.252.1.2 is not a host address of vm-network 10.252.0.0/24"),
    ));
  it("the VM on the gateway's address", () =>
    expectOneIssue(
      { system: nat("    vm-network-gw: 10.252.0.1\n    vm-ip: 10.252.0.1\n") },
      natAt(9, "vm-ip", "vm-ip 10.252.0.1 is also the vm-network-gw"),
    ));
  it("a vm-network with no room for the DHCP server", () =>
    expectOneIssue(
      {
        system: net(
          "nat",
          "    nat-network: 10.250.0.0/16\n    vm-network: 10.252.0.0/30\n    bridge: natbr\n" +
            "    tap-prefix: nattap\n    vm-network-gw: 10.252.0.1\n    vm-ip: 10.252.0.2\n",
        ),
      },
      natAt(5, "vm-network", "vm-network 10.252.0.0/30 is too small"),
    ));
  it("one MAC for the VM and the bridge", () =>
    expectOneIssue(
      {
        system: nat(
          "    vm-network-gw: 10.252.0.1\n    vm-ip: 10.252.0.2\n    bridge-hwaddr: 52:54:00:44:ae:5e\n",
        ),
      },
      natAt(3, "vm-hwaddr", "vm-hwaddr 52:54:00:44:AE:5E is also the bridge-hwaddr"),
    ));
  it("a bridge name that leaves no room for an index", () =>
    expectOneIssue(
      {
        system: net(
          "nat",
          "    nat-network: 10.250.0.0/16\n    vm-network: 10.252.0.0/24\n    bridge: nat-bridge-0\n" +
            "    tap-prefix: nattap\n    vm-network-gw: 10.252.0.1\n    vm-ip: 10.252.0.2\n",
        ),
      },
      natAt(6, "bridge", "must be a letter then up to 7 letters, digits or _"),
    ));
});
