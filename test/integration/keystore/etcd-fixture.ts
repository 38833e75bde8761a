import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeystoreConfig } from "../../../src/keystore/index.js";

/**
 * A private etcd 3.4 with password auth on loopback, for keystore tests that must not disturb (or depend
 * on) the shared lab's etcd state. Same binary and auth setup as the lab.
 */
export interface EtcdFixture {
  endpoints: string[];
  systemDir: string;
  config(userDir?: string): KeystoreConfig;
  /** SIGKILL and start again on the same data and ports (clients see a dropped connection). */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: connections stay open but nothing answers, like a hung server. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

async function gateway(base: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${base}/v3/${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
}

export async function startEtcd(rootPassword = "root-secret"): Promise<EtcdFixture> {
  const dir = await mkdtemp(join(tmpdir(), "pcocc-ks-"));
  const [client, peer] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const args = [
    ...["--name", "ks", "--data-dir", join(dir, "data")],
    ...["--listen-client-urls", base, "--advertise-client-urls", base],
    ...["--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl],
    ...["--initial-cluster", `ks=${peerUrl}`, "--log-outputs", join(dir, "etcd.log"), "--logger", "zap"],
  ];
  let proc: ChildProcess;
  const launch = async (): Promise<void> => {
    proc = spawn("etcd", args, { stdio: "ignore" });
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(500) });
        if (res.ok) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`etcd did not start, see ${dir}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill(signal);
    await exited;
  };
  await launch();
  await gateway(base, "auth/user/add", { name: "root", password: rootPassword });
  await gateway(base, "auth/role/add", { name: "root" });
  await gateway(base, "auth/user/grant", { user: "root", role: "root" });
  await gateway(base, "auth/enable", {});
  const systemDir = join(dir, "etc");
  await mkdir(systemDir, { mode: 0o755 });
  await writeFile(join(systemDir, "etcd-password"), `${rootPassword}\n`, { mode: 0o600 });
  return {
    endpoints: [base],
    systemDir,
    config: (userDir = join(dir, "home")) => ({
      systemDir,
      userDir,
      batch: {
        settings: {
          "etcd-servers": ["127.0.0.1"],
          "etcd-client-port": client,
          "etcd-protocol": "http",
          "etcd-auth-type": "password",
        },
      },
    }),
    restart: async () => {
      await kill("SIGKILL");
      await launch();
    },
    pause: () => proc.kill("SIGSTOP"),
    resume: () => proc.kill("SIGCONT"),
    stop: async () => {
      proc.kill("SIGCONT");
      await kill("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
