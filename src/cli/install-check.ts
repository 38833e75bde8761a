import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { delimiter, join } from "node:path";
import { connect } from "node:tls";
import { resolveTemplate, type PcoccConfig } from "../config/index.js";

const ETCD_TIMEOUT_MS = 3000;

/** A TLS handshake with one etcd server, its certificate verified against the configured CA. */
function tlsProblem(host: string, port: number, ca: Buffer | undefined): Promise<string | undefined> {
  return new Promise((resolve) => {
    const servername = isIP(host) ? undefined : host;
    const sock = connect({ host, port, ca, servername, timeout: ETCD_TIMEOUT_MS });
    const done = (problem?: string): void => {
      sock.destroy();
      resolve(problem);
    };
    sock.once("secureConnect", () => done());
    sock.once("error", (err) => done(`etcd ${host}:${port}: ${err.message}`));
    sock.once("timeout", () => done(`etcd ${host}:${port}: no TLS answer within ${ETCD_TIMEOUT_MS} ms`));
  });
}

/** etcd as every pcocc command reaches it: each server over TLS, and root's password file when root. */
async function keystoreProblems(config: PcoccConfig): Promise<string[]> {
  const s = config.batch.settings;
  const problems: string[] = [];
  if (s["etcd-protocol"] === "http") {
    problems.push("etcd-protocol http: keystore passwords would cross the network in clear (use https)");
    return problems;
  }
  let ca: Buffer | undefined;
  if (s["etcd-ca-cert"]) {
    ca = await readFile(s["etcd-ca-cert"]).catch((err: Error) => {
      problems.push(`etcd-ca-cert ${s["etcd-ca-cert"]}: ${err.message}`);
      return undefined;
    });
    if (!ca) return problems;
  }
  const answers = await Promise.all(s["etcd-servers"].map((h) => tlsProblem(h, s["etcd-client-port"], ca)));
  problems.push(...answers.filter((p) => p !== undefined));
  if (s["etcd-auth-type"] === "password" && process.getuid?.() === 0) {
    const { readRootPassword } = await import("../keystore/index.js");
    await readRootPassword(config.systemDir).catch((err: Error) => problems.push(err.message));
  }
  return problems;
}

async function onPath(name: string): Promise<boolean> {
  const dirs = name.includes("/") ? [""] : (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    if (
      await access(dir ? join(dir, name) : name, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}

/** A compute node: the QEMU binaries the templates name, qemu-img, and what node setup talks to. */
async function nodeProblems(config: PcoccConfig): Promise<string[]> {
  const templates = Object.keys(config.templates);
  const qemus = new Set(templates.map((t) => resolveTemplate(config, t).settings["qemu-bin"]));
  const problems: string[] = [];
  for (const bin of [...qemus, "qemu-img"])
    if (!(await onPath(bin))) {
      const why = bin.includes("/") ? "not executable" : "not found on PATH";
      problems.push(`${bin}: ${why} (Debian packages qemu-system-x86, qemu-utils)`);
    }
  const { nodeNetworkProblems } = await import("../net/index.js");
  problems.push(...(await nodeNetworkProblems()));
  return problems;
}

/** `config check --install` (`--node` adds the compute node's part): one line per problem. */
export async function installationProblems(config: PcoccConfig, node: boolean): Promise<string[]> {
  const [ks, nd] = await Promise.all([keystoreProblems(config), node ? nodeProblems(config) : []]);
  return [...ks, ...nd];
}
