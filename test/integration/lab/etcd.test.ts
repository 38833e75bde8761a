import { readFileSync } from "node:fs";
import { connect } from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { nodeExec, userExec } from "../../../src/lab/index.js";
import type { LabInfo } from "../../../src/lab/index.js";
import { run } from "../../../src/lab/procs.js";
import { useLab } from "../../support/lab.js";

let lab: LabInfo;
let password: string;
beforeAll(async () => {
  lab = await useLab({ images: false });
  password = readFileSync(lab.etcd.rootPasswordFile, "utf8").trim();
});

const env = () => ({
  PATH: "/usr/bin:/bin",
  ETCDCTL_API: "3",
  ETCDCTL_ENDPOINTS: lab.etcd.endpoints.join(","),
  ETCDCTL_CACERT: lab.etcd.caCert,
});

describe("lab etcd", () => {
  it("speaks TLS only: a plain-http client gets no answer from etcd, on the bridge or on loopback", async () => {
    for (const url of [...lab.etcd.endpoints, `https://127.0.0.1:${new URL(lab.etcd.endpoints[0]!).port}`]) {
      const plain = url.replace(/^https:/, "http:");
      const res = await fetch(`${plain}/health`, { signal: AbortSignal.timeout(5000) }).catch(
        (e: Error) => e,
      );
      if (!(res instanceof Error)) {
        // Go's TLS listener answers a cleartext request with a canned 400, never with etcd's API
        expect(res.status, plain).toBe(400);
        expect(await res.text()).toMatch(/HTTP request to an HTTPS server/);
      }
      const r = await run(
        ["etcdctl", `--endpoints=${plain}`, "--user", `root:${password}`, "get", "/pcocc"],
        {
          env: { PATH: "/usr/bin:/bin", ETCDCTL_API: "3", ETCDCTL_DIAL_TIMEOUT: "2s" },
          timeoutMs: 20_000,
        },
      );
      expect(r.code, plain).not.toBe(0);
    }
  });

  it("presents a certificate for its addresses signed by the lab CA only", async () => {
    const health = await run(["etcdctl", "--user", `root:${password}`, "endpoint", "health"], { env: env() });
    expect(health.code, health.stderr).toBe(0);
    const url = new URL(lab.etcd.endpoints[0]!);
    const handshake = (ca?: Buffer) =>
      new Promise<string>((resolve) => {
        const sock = connect(
          { host: url.hostname, port: Number(url.port), ca, servername: undefined },
          () => {
            resolve(sock.authorized ? "ok" : String(sock.authorizationError));
            sock.end();
          },
        );
        sock.on("error", (e) => resolve(e.message));
      });
    expect(await handshake(readFileSync(lab.etcd.caCert))).toBe("ok");
    // the system's CAs do not vouch for it: only clients given the lab's CA talk to this etcd
    expect(await handshake()).toMatch(
      /unable to verify the first certificate|self[- ]signed|unable to get local issuer/,
    );
    // the CA's key stays root-only; users read the CA certificate (batch.yaml etcd-ca-cert)
    expect((await userExec(lab, ["cat", lab.etcd.caCert])).code).toBe(0);
    expect((await userExec(lab, ["cat", lab.etcd.caCert.replace(/\.crt$/, ".key")])).code).not.toBe(0);
  });

  it("refuses an unauthenticated read", async () => {
    const r = await run(["etcdctl", "get", "/pcocc"], { env: env() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("user name is empty");
  });

  it("refuses a wrong root password", async () => {
    const r = await run(["etcdctl", "--user", "root:not-the-password", "get", "/pcocc"], { env: env() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/authentication failed/);
  });

  it("accepts the root credentials from the root-only password file", async () => {
    const key = `/lab-test/${process.pid}`;
    const put = await run(["etcdctl", "--user", `root:${password}`, "put", key, "hello"], { env: env() });
    expect(put.code, put.stderr).toBe(0);
    const get = await run(["etcdctl", "--user", `root:${password}`, "get", "--print-value-only", key], {
      env: env(),
    });
    expect(get.stdout.trim()).toBe("hello");
    await run(["etcdctl", "--user", `root:${password}`, "del", key], { env: env() });
  });

  it("keeps the root password file root-only", async () => {
    const r = await userExec(lab, ["cat", lab.etcd.rootPasswordFile]);
    expect(r.code).not.toBe(0);
  });

  it("is reachable with credentials from inside every node", async () => {
    for (const node of lab.nodes) {
      const r = await nodeExec(node, ["etcdctl", "--user", `root:${password}`, "endpoint", "health"], {
        env: env(),
      });
      expect(r.code, r.stderr).toBe(0);
    }
  });
});
