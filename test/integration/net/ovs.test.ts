import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOps, listLinks } from "../../../src/net/native.js";
import { addBridge, deleteBridge, listBridges } from "../../../src/net/ovs.js";
import { OvsdbClient } from "../../../src/net/ovsdb.js";
import { startOvs, type OvsInstance } from "./ovs-instance.js";

let ovs: OvsInstance;
let c: OvsdbClient;

beforeAll(async () => {
  ovs = await startOvs("client");
  c = await OvsdbClient.open(ovs.sock);
});
afterAll(async () => {
  c?.close();
  await ovs?.stop();
});

function vsctl(...args: string[]): string {
  return execFileSync("ovs-vsctl", [`--db=unix:${ovs.sock}`, ...args], { encoding: "utf8" }).trim();
}

describe("OVSDB client against a real ovsdb-server + ovs-vswitchd (netdev)", () => {
  it("creates a bridge with tap, vxlan and protected ports in one transaction, applied by vswitchd", async () => {
    await runOps([{ op: "tapAdd", name: "otap0", uid: 1000, up: true }], ovs.netns);
    await addBridge(
      c,
      {
        name: "obr0",
        datapathType: "netdev",
        ports: [
          { name: "otap0", type: "" },
          { name: "ovx0", type: "vxlan", options: { remote_ip: "10.9.9.2", key: "1500" }, protected: true },
        ],
      },
      { wait: true },
    );
    expect(vsctl("list-ports", "obr0").split("\n")).toEqual(["otap0", "ovx0"]);
    expect(vsctl("get", "bridge", "obr0", "datapath_type")).toBe("netdev");
    expect(vsctl("get", "interface", "ovx0", "options")).toBe('{key="1500", remote_ip="10.9.9.2"}');
    expect(vsctl("get", "port", "ovx0", "protected")).toBe("true");
    // vswitchd opened the tap (no error recorded on the interface).
    expect(vsctl("get", "interface", "otap0", "error")).toBe("[]");
    expect(await listBridges(c)).toEqual([
      { name: "obr0", datapathType: "netdev", ports: ["otap0", "ovx0"] },
    ]);
  });

  it("refuses a duplicate bridge and leaves the database unchanged", async () => {
    await expect(
      addBridge(c, { name: "obr0", datapathType: "netdev", ports: [{ name: "x1", type: "internal" }] }),
    ).rejects.toThrow(/OVSDB transaction failed at wait on Bridge/);
    expect(vsctl("list-ports", "obr0").split("\n")).toEqual(["otap0", "ovx0"]);
  });

  it("deletes the bridge with its ports", async () => {
    expect(await deleteBridge(c, "obr0", { wait: true })).toBe(true);
    expect(await deleteBridge(c, "obr0")).toBe(false);
    expect(vsctl("list-br")).toBe("");
    expect(vsctl("--columns=name", "list", "interface")).toBe("");
    // The kernel tap is ours, not OVS's: it survives the bridge.
    expect((await listLinks(ovs.netns)).map((l) => l.name)).toContain("otap0");
  });
});
