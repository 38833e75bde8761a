import { beforeAll, describe, expect, it } from "vitest";
import { nodeExec } from "../../../src/lab/index.js";
import type { LabInfo } from "../../../src/lab/index.js";
import { useLab } from "../../support/lab.js";

let lab: LabInfo;
beforeAll(async () => {
  lab = await useLab({ images: false });
});

describe("lab nodes", () => {
  it("each node has its own hostname and address", async () => {
    for (const node of lab.nodes) {
      const r = await nodeExec(node, ["sh", "-c", "hostname; ip -4 -o addr show dev eth0"]);
      expect(r.code, r.stderr).toBe(0);
      const [host, addr] = r.stdout.trim().split("\n");
      expect(host).toBe(node.name);
      expect(addr).toContain(`inet ${node.ip}/24`);
    }
  });

  it("nodes reach each other and the controller over the lab bridge", async () => {
    const [a, b] = lab.nodes;
    const r = await nodeExec(a!, ["sh", "-c", `ping -c1 -W2 ${b!.ip} && ping -c1 -W2 ${lab.controllerIp}`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it("each node has its own Open vSwitch on /run/openvswitch/db.sock", async () => {
    const [a, b] = lab.nodes;
    const br = `labtest${process.pid % 10000}`;
    const add = await nodeExec(a!, [
      "ovs-vsctl",
      "--timeout=10",
      "add-br",
      br,
      "--",
      "set",
      "bridge",
      br,
      "datapath_type=netdev",
    ]);
    expect(add.code, add.stderr).toBe(0);
    try {
      expect((await nodeExec(a!, ["ovs-vsctl", "list-br"])).stdout).toContain(br);
      expect((await nodeExec(b!, ["ovs-vsctl", "list-br"])).stdout).not.toContain(br);
      // vswitchd runs in the node's netns: the bridge's port device appears there, not on the host
      const link = await nodeExec(a!, ["ip", "link", "show", br]);
      expect(link.code, link.stderr).toBe(0);
    } finally {
      await nodeExec(a!, ["ovs-vsctl", "--timeout=10", "del-br", br]);
    }
  });

  it("each node has its own /run/pcocc", async () => {
    const [a, b] = lab.nodes;
    const file = `/run/pcocc/labtest-${process.pid}`;
    await nodeExec(a!, ["touch", file]);
    try {
      expect((await nodeExec(a!, ["test", "-e", file])).code).toBe(0);
      expect((await nodeExec(b!, ["test", "-e", file])).code).not.toBe(0);
    } finally {
      await nodeExec(a!, ["rm", "-f", file]);
    }
  });
});
