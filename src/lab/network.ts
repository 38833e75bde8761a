import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { LAB_NET, netnsName } from "./layout.js";
import { run, runOk } from "./procs.js";

/**
 * Bridge with the controller address in the root netns, and one netns per node joined to it by a veth
 * (eth0 inside). One `ip -batch` for all of it. Nothing here touches global sysctls.
 */
export async function createLabNetwork(nodes: Array<{ name: string }>, batchFile: string): Promise<void> {
  const lines = [
    `link add ${LAB_NET.bridge} type bridge`,
    `addr add ${LAB_NET.controllerIp}/24 dev ${LAB_NET.bridge}`,
    `link set ${LAB_NET.bridge} up`,
  ];
  for (const n of nodes) {
    const ns = netnsName(n.name);
    const veth = `${LAB_NET.vethPrefix}${n.name}`;
    lines.push(
      `netns add ${ns}`,
      `link add ${veth} type veth peer name eth0 netns ${ns}`,
      `link set ${veth} master ${LAB_NET.bridge} up`,
    );
  }
  writeFileSync(batchFile, lines.join("\n") + "\n");
  await runOk(["ip", "-batch", batchFile]);
}

/** The `ip -batch` a node runs inside its own netns to configure its side. */
export function nodeNetBatch(ip: string): string {
  return ["link set lo up", `addr add ${ip}/24 dev eth0`, "link set eth0 up", ""].join("\n");
}

export function labNetnsNames(): string[] {
  try {
    return readdirSync("/run/netns").filter((n) => n.startsWith(LAB_NET.netnsPrefix));
  } catch {
    return [];
  }
}

/**
 * Deleting a node's netns also deletes every nftables table created in it. Its veth pair goes only once the
 * kernel has destroyed the namespace, which happens asynchronously: the host ends are deleted explicitly.
 */
export async function destroyLabNetwork(): Promise<void> {
  const lines = labNetnsNames().map((ns) => `netns del ${ns}`);
  for (const l of readdirSync("/sys/class/net"))
    if (l.startsWith(LAB_NET.vethPrefix)) lines.push(`link del ${l}`);
  if (existsSync(`/sys/class/net/${LAB_NET.bridge}`)) lines.push(`link del ${LAB_NET.bridge}`);
  if (!lines.length) return;
  await run(["ip", "-force", "-batch", "-"], { input: lines.join("\n") + "\n" });
}
