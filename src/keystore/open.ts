import { readFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { PcoccError } from "../util/index.js";
import { Keystore } from "./client.js";
import { readRootPassword, readUserPassword } from "./credentials.js";
import { checkUserName } from "./layout.js";

/** The part of batch.yaml the keystore reads; `PcoccConfig` satisfies it. */
export interface KeystoreConfig {
  systemDir: string;
  userDir: string;
  batch: {
    settings: {
      "etcd-servers": string[];
      "etcd-client-port": number;
      "etcd-protocol": "http" | "https";
      "etcd-auth-type": "password" | "munge" | "none";
      "etcd-ca-cert"?: string;
    };
  };
}

export interface OpenKeystoreOptions {
  config: KeystoreConfig;
  /** root: setup on compute nodes (etcd user root, system password file); user: everything else. */
  as: "root" | "user";
  /** etcd user name for `as: "user"`; the current login by default. */
  user?: string;
  callTimeoutMs?: number;
}

export function endpointsOf(config: KeystoreConfig): string[] {
  const s = config.batch.settings;
  return s["etcd-servers"].map((host) => {
    const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    return `${s["etcd-protocol"]}://${h}:${s["etcd-client-port"]}`;
  });
}

export async function openKeystore(opts: OpenKeystoreOptions): Promise<Keystore> {
  const s = opts.config.batch.settings;
  let caCert: Buffer | undefined;
  if (s["etcd-protocol"] === "https" && s["etcd-ca-cert"]) {
    try {
      caCert = await readFile(s["etcd-ca-cert"]);
    } catch (err) {
      throw new PcoccError(`cannot read etcd-ca-cert ${s["etcd-ca-cert"]}: ${(err as Error).message}`);
    }
  }
  let user: { name: string; password: string } | undefined;
  switch (s["etcd-auth-type"]) {
    case "none":
      break;
    case "password":
      user =
        opts.as === "root"
          ? { name: "root", password: await readRootPassword(opts.config.systemDir) }
          : {
              name: checkUserName(opts.user ?? userInfo().username),
              password: await readUserPassword(opts.config.userDir),
            };
      break;
    case "munge":
      throw new PcoccError("batch.yaml: etcd-auth-type munge is not supported by this pcocc; use password");
  }
  return Keystore.connect({
    endpoints: endpointsOf(opts.config),
    user,
    caCert,
    callTimeoutMs: opts.callTimeoutMs,
  });
}
