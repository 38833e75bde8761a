import { request } from "node:https";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LAB_NET } from "./layout.js";
import type { LabPaths } from "./layout.js";
import { processAlive, runOk, startDaemon, waitFor } from "./procs.js";
import { PcoccError } from "../util/errors.js";

const LOCAL = `https://127.0.0.1:${LAB_NET.etcdClientPort}`;

/** The lab's etcd TLS material: its own CA (made per up) and a server certificate for its two addresses. */
export function etcdTlsPaths(paths: LabPaths) {
  const dir = join(paths.etc, "etcd-tls");
  return {
    dir,
    /** what clients trust (batch.yaml etcd-ca-cert, ETCDCTL_CACERT): world-readable */
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    cert: join(dir, "server.crt"),
    key: join(dir, "server.key"),
  };
}

/** A fresh CA and server key pair on every up (EC keys: milliseconds), so nothing stale is ever trusted. */
async function makeEtcdTls(paths: LabPaths): Promise<void> {
  const t = etcdTlsPaths(paths);
  rmSync(t.dir, { recursive: true, force: true });
  mkdirSync(t.dir, { mode: 0o755 });
  chmodSync(t.dir, 0o755);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await runOk(
    ["openssl", "req", "-x509", ...ec, "-keyout", t.caKey, "-out", t.caCert, "-days", "3650"].concat(
      ["-subj", "/CN=pcocc-lab etcd CA", "-addext", "basicConstraints=critical,CA:TRUE"],
      ["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ),
  );
  const csr = join(t.dir, "server.csr");
  const ext = join(t.dir, "server.ext");
  await runOk([
    "openssl",
    "req",
    "-new",
    ...ec,
    "-keyout",
    t.key,
    "-out",
    csr,
    "-subj",
    "/CN=pcocc-lab etcd",
  ]);
  writeFileSync(
    ext,
    `subjectAltName=IP:127.0.0.1,IP:${LAB_NET.controllerIp}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`,
  );
  await runOk(
    ["openssl", "x509", "-req", "-in", csr, "-CA", t.caCert, "-CAkey", t.caKey, "-CAcreateserial"].concat([
      "-out",
      t.cert,
      "-days",
      "825",
      "-extfile",
      ext,
    ]),
  );
  for (const f of [csr, ext, join(t.dir, "ca.srl")]) rmSync(f, { force: true });
  for (const f of [t.caKey, t.key]) chmodSync(f, 0o600);
  for (const f of [t.caCert, t.cert]) chmodSync(f, 0o644);
}

/**
 * etcd v3 on loopback and the bridge (node namespaces reach it there), TLS only on the client port (a
 * plain-http client is refused: passwords never cross the bridge in clear), fresh data dir each time. The
 * peer port is single-member and loopback only.
 */
export async function startEtcd(paths: LabPaths): Promise<number> {
  await makeEtcdTls(paths);
  const tls = etcdTlsPaths(paths);
  const peer = `http://127.0.0.1:${LAB_NET.etcdPeerPort}`;
  return startDaemon(
    [
      "etcd",
      "--name",
      "pcocclab",
      "--data-dir",
      paths.etcdData,
      "--listen-client-urls",
      `${LOCAL},https://${LAB_NET.controllerIp}:${LAB_NET.etcdClientPort}`,
      "--advertise-client-urls",
      `https://${LAB_NET.controllerIp}:${LAB_NET.etcdClientPort}`,
      "--cert-file",
      tls.cert,
      "--key-file",
      tls.key,
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

/** One request to the local etcd over TLS, trusting only the lab's CA. */
function localRequest(
  paths: LabPaths,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  const ca = readFileSync(etcdTlsPaths(paths).caCert);
  return new Promise((resolve, reject) => {
    const req = request(
      `${LOCAL}${path}`,
      { method: body === undefined ? "GET" : "POST", ca, timeout: timeoutMs },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function healthy(paths: LabPaths): Promise<boolean> {
  try {
    const res = await localRequest(paths, "/health", undefined, 500);
    return res.status === 200 && (JSON.parse(res.text) as { health?: string }).health === "true";
  } catch {
    return false;
  }
}

async function call(paths: LabPaths, path: string, body: unknown): Promise<void> {
  const res = await localRequest(paths, `/v3/${path}`, body, 5000);
  if (res.status !== 200) throw new PcoccError(`lab: etcd ${path} failed: ${res.status} ${res.text}`);
}

/**
 * Waits for etcd, then turns authentication on with a root user, as a site would run it. Done through
 * etcd's JSON gateway: four local HTTPS calls instead of etcdctl processes.
 */
export async function setupEtcdAuth(paths: LabPaths, pid: number, rootPassword: string): Promise<void> {
  await waitFor(
    "etcd to become healthy",
    async () => {
      if (!processAlive(pid)) throw new PcoccError(`lab: etcd exited (see ${paths.log}/etcd.log)`);
      return healthy(paths);
    },
    20_000,
    `see ${paths.log}/etcd.log`,
  );
  await call(paths, "auth/user/add", { name: "root", password: rootPassword });
  await call(paths, "auth/role/add", { name: "root" });
  await call(paths, "auth/user/grant", { user: "root", role: "root" });
  await call(paths, "auth/enable", {});
}
