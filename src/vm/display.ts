import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PcoccError } from "../util/index.js";
import type { VmEndpoint } from "./paths.js";

/** pcocc's refusal for a VM without `remote-display: spice`. */
export function requireSpice(vm: VmEndpoint): void {
  if (vm.info.remoteDisplay !== "spice") throw new PcoccError(`${vm.name} has no valid remote display`);
}

/**
 * On the VM's node: this process's stdin and stdout become one connection to the VM's SPICE socket (what a
 * SPICE client's channel carries), until either side closes.
 */
export async function pipeSpice(vm: VmEndpoint): Promise<void> {
  requireSpice(vm);
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = connect(vm.paths.spiceSocket, () => resolve(s));
    s.once("error", (err) =>
      reject(new PcoccError(`cannot reach the display of ${vm.name}: ${err.message}`)),
    );
  });
  await new Promise<void>((resolve) => {
    process.stdin.pipe(sock);
    sock.pipe(process.stdout);
    sock.once("close", () => resolve());
    process.stdin.once("end", () => sock.end());
  });
}

export interface SpiceRelay {
  /** `spice+unix://...`: what a SPICE client (remote-viewer) connects to. */
  uri: string;
  close(): Promise<void>;
}

/**
 * Where the user runs `pcocc display`: a unix socket in a fresh 0700 directory (only this user gets in) that
 * carries each connection a SPICE client opens (one per channel) through its own `pipe()` child, which reaches
 * the VM's node inside the job.
 */
export async function serveSpiceRelay(pipeArgv: string[]): Promise<SpiceRelay> {
  const dir = await mkdtemp(join(tmpdir(), "pcocc-display-"));
  const path = join(dir, "spice.sock");
  const clients = new Set<Socket>();
  const server: Server = createServer((client) => {
    clients.add(client);
    client.once("close", () => clients.delete(client));
    const child = spawn(pipeArgv[0]!, pipeArgv.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
    client.pipe(child.stdin!);
    child.stdout!.pipe(client);
    child.once("exit", () => client.destroy());
    client.once("close", () => child.kill("SIGTERM"));
    client.on("error", () => child.kill("SIGTERM"));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  return {
    uri: `spice+unix://${path}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of clients) c.destroy();
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
