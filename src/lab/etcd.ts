import { LAB_NET } from "./layout.js";
import type { LabPaths } from "./layout.js";
import { processAlive, startDaemon, waitFor } from "./procs.js";
import { PcoccError } from "../util/errors.js";

const LOCAL = `http://127.0.0.1:${LAB_NET.etcdClientPort}`;

/** etcd v3 on loopback and the bridge (node namespaces reach it there), fresh data dir each time. */
export function startEtcd(paths: LabPaths): number {
  const peer = `http://127.0.0.1:${LAB_NET.etcdPeerPort}`;
  return startDaemon(
    [
      "etcd",
      "--name",
      "pcocclab",
      "--data-dir",
      paths.etcdData,
      "--listen-client-urls",
      `${LOCAL},http://${LAB_NET.controllerIp}:${LAB_NET.etcdClientPort}`,
      "--advertise-client-urls",
      `http://${LAB_NET.controllerIp}:${LAB_NET.etcdClientPort}`,
      "--listen-peer-urls",
      peer,
      "--initial-advertise-peer-urls",
      peer,
      "--initial-cluster",
      `pcocclab=${peer}`,
      "--initial-cluster-state",
      "new",
      // a single member elects itself after one election timeout: keep that short
      "--heartbeat-interval",
      "25",
      "--election-timeout",
      "250",
      "--logger",
      "zap",
      "--log-outputs",
      "stderr",
    ],
    `${paths.log}/etcd.log`,
  );
}

async function healthy(): Promise<boolean> {
  try {
    const res = await fetch(`${LOCAL}/health`, { signal: AbortSignal.timeout(500) });
    return res.ok && ((await res.json()) as { health?: string }).health === "true";
  } catch {
    return false;
  }
}

async function call(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${LOCAL}/v3/${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new PcoccError(`lab: etcd ${path} failed: ${res.status} ${await res.text()}`);
}

/**
 * Waits for etcd, then turns authentication on with a root user, as a site would run it. Done through
 * etcd's JSON gateway: four local HTTP calls instead of etcdctl processes.
 */
export async function setupEtcdAuth(paths: LabPaths, pid: number, rootPassword: string): Promise<void> {
  await waitFor(
    "etcd to become healthy",
    async () => {
      if (!processAlive(pid)) throw new PcoccError(`lab: etcd exited (see ${paths.log}/etcd.log)`);
      return healthy();
    },
    20_000,
    `see ${paths.log}/etcd.log`,
  );
  await call("auth/user/add", { name: "root", password: rootPassword });
  await call("auth/role/add", { name: "root" });
  await call("auth/user/grant", { user: "root", role: "root" });
  await call("auth/enable", {});
}
