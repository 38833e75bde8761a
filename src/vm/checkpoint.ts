import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { PcoccError } from "../util/index.js";
import type { VmEndpoint } from "./paths.js";
import { QmpClient } from "./qmp.js";
import { saveLayerWith } from "./save.js";

/** What a checkpoint directory records about its cluster, so that a restart can be checked up front. */
export interface CheckpointManifest {
  definition: string;
  vms: number;
}

export const checkpointManifestPath = (dir: string): string => join(dir, "cluster.json");

/** What a checkpoint records about one VM: a restart must give it the same. */
export interface CheckpointVmMeta {
  memoryMiB: number;
  vcpus: number;
}

/** Files of one VM in a checkpoint directory (pcocc's names). */
export function checkpointFiles(dir: string, rank: number): { disk: string; memory: string; meta: string } {
  return {
    disk: join(dir, `disk-vm${rank}`),
    memory: join(dir, `memory-vm${rank}`),
    meta: join(dir, `vm${rank}.json`),
  };
}

export interface CheckpointOptions {
  /** Absolute path of the disk layer to write (a VM without a disk has none). */
  disk?: string;
  memory: string;
  onPhase?: (phase: "disk" | "memory") => void;
}

const MIGRATION_END = new Set(["completed", "failed", "cancelled"]);

/**
 * Checkpoints a VM and ends it: pauses it, writes what it wrote to its disk as a layer on its image (as
 * `save` does), streams its state (memory and devices) to `memory` through a unix socket this process
 * serves — no shell command inside QEMU — then quits QEMU. The hypervisor sees an orderly exit.
 */
export async function checkpointVm(vm: VmEndpoint, opts: CheckpointOptions): Promise<void> {
  const qmp = await QmpClient.connect(vm.paths.qmpSocket, { timeoutMs: 10_000 });
  const sock = join(vm.paths.dir, "ckpt.sock");
  let resumeOnFailure = true;
  try {
    await qmp.execute("stop");
    if (opts.disk) {
      opts.onPhase?.("disk");
      await saveLayerWith(qmp, { layerPath: opts.disk });
    }
    opts.onPhase?.("memory");
    await rm(sock, { force: true });
    const received = receiveTo(sock, opts.memory);
    await received.listening;
    await qmp.execute("migrate-set-capabilities", { capabilities: [{ capability: "events", state: true }] });
    const ended = qmp.waitEvent("MIGRATION", (ev) => MIGRATION_END.has(String(ev.data?.status)));
    ended.catch(() => undefined);
    await qmp.execute("migrate", { uri: `unix:${sock}` });
    const status = String((await ended).data?.status);
    if (status !== "completed") {
      const info = await qmp.execute<{ "error-desc"?: string }>("query-migrate");
      throw new PcoccError(`${vm.name}: memory checkpoint ${status}: ${info["error-desc"] ?? ""}`);
    }
    await received.done;
    resumeOnFailure = false;
    await qmp.execute("quit").catch(() => undefined);
  } catch (err) {
    if (resumeOnFailure) await qmp.execute("cont").catch(() => undefined);
    throw err;
  } finally {
    qmp.close();
    await rm(sock, { force: true });
  }
}

/** Serves one connection on `sock` and writes what it carries to `file`. */
function receiveTo(sock: string, file: string): { listening: Promise<void>; done: Promise<void> } {
  const server = createServer();
  const listening = new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(sock, () => resolve());
  });
  const done = new Promise<void>((resolve, reject) => {
    server.once("connection", (conn: Socket) => {
      server.close();
      pipeline(conn, createWriteStream(file, { mode: 0o600, flags: "wx" })).then(resolve, (err: Error) =>
        reject(new PcoccError(`unable to write ${file}: ${err.message}`)),
      );
    });
  });
  done.catch(() => undefined);
  return { listening, done };
}
