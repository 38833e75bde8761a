import { describe, expect, it } from "vitest";
import { launchBlockers, unsupportedIssues } from "../../../src/config/index.js";
import { issuesOf, load } from "./fixture.js";

const NETWORKS = `eth0:
  type: ethernet
  settings:
    dev-prefix: e0
fabric:
  type: ib
  settings:
    host-device: mlx5_0
    min-pkey: "0x2000"
    max-pkey: "0x3000"
    opensm-daemon: opensm
    opensm-partition-cfg: /etc/opensm/p.conf
    opensm-partition-tpl: /etc/opensm/p.tpl
legacy:
  type: bridged
  settings:
    host-bridge: br0
    tap-prefix: brtap
gpu:
  type: genericpci
  settings:
    host-device-addrs: ["0000:03:00.0"]
    host-driver: nvidia
`;
const RESOURCES = `default:
  networks: [eth0]
  default: true
hpc:
  networks: [eth0, fabric]
old:
  networks: [legacy]
`;
const TEMPLATES = `plain: {}
hpc:
  resource-set: hpc
old:
  resource-set: old
dir:
  image: /shared/images/centos
child:
  inherits: dir
`;
const SYSTEM = { "networks.yaml": NETWORKS, "resources.yaml": RESOURCES, "templates.yaml": TEMPLATES };

const rel = (file: string) => file.replace(/^.*\/etc\//, "system:");

describe("what this installation cannot run", () => {
  it("loads it (other commands keep working) but lists each use, located, naming the network", async () => {
    const config = await load(SYSTEM);
    const issues = unsupportedIssues(config).map((i) => ({ ...i, file: rel(i.file) }));
    expect(issues).toEqual([
      {
        file: "system:networks.yaml",
        line: 6,
        keyPath: "fabric.type",
        message: "network 'fabric': type ib is not supported by this installation",
      },
      {
        file: "system:networks.yaml",
        line: 15,
        keyPath: "legacy.type",
        message: "network 'legacy': type bridged is not supported by this installation",
      },
      {
        file: "system:networks.yaml",
        line: 20,
        keyPath: "gpu.type",
        message: "network 'gpu': type genericpci is not supported by this installation",
      },
    ]);
  });
  it("reports type: local in batch.yaml", async () => {
    const batch = `type: local\nsettings:\n  etcd-servers: [e]\n  etcd-client-port: 2379\n  etcd-auth-type: none\n`;
    const config = await load({ ...SYSTEM, "batch.yaml": batch });
    expect(config.unsupported.batch).toMatchObject({
      line: 1,
      keyPath: "type",
      message: "type local (a single host without SLURM) is not supported by this installation",
    });
  });
  it("adds them to the other problems when the configuration is also invalid", async () => {
    const issues = await issuesOf({ ...SYSTEM, "templates.yaml": `${TEMPLATES}bad:\n  hugepages: 1\n` });
    expect(issues.map((i) => `${i.file}:${i.line}: ${i.keyPath}`)).toEqual([
      "system:networks.yaml:6: fabric.type",
      "system:networks.yaml:15: legacy.type",
      "system:networks.yaml:20: gpu.type",
      "system:templates.yaml:11: bad.hugepages",
    ]);
  });
  it("blocks a launch only for what the cluster's templates use", async () => {
    const config = await load(SYSTEM);
    const keys = (templates: string[]) => launchBlockers(config, templates).map((i) => i.keyPath);
    expect(keys(["plain", "plain"])).toEqual([]);
    expect(keys(["plain", "hpc"])).toEqual(["fabric.type"]);
    expect(keys(["hpc", "old", "hpc"])).toEqual(["fabric.type", "legacy.type"]);
    // directory images run (they are resolved before SLURM by the launch preflight)
    expect(keys(["dir", "child"])).toEqual([]);
  });
  it("blocks every launch with type: local", async () => {
    const batch = `type: local\nsettings:\n  etcd-servers: [e]\n  etcd-client-port: 2379\n  etcd-auth-type: none\n`;
    const config = await load({ ...SYSTEM, "batch.yaml": batch });
    expect(launchBlockers(config, ["plain"]).map((i) => i.keyPath)).toEqual(["type"]);
  });
});
