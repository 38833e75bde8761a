import { rm } from "node:fs/promises";
import net from "node:net";
import { basename, dirname, isAbsolute } from "node:path";
import { JsonValueSplitter } from "../util/index.js";
import { blockJobEnded } from "./block-job.js";
import type { QmpClient } from "./qmp.js";

/**
 * A `pcocc save` runs its block job in QEMU, which goes on writing into the staging layer if the save
 * process dies (SIGKILL runs none of its cleanup). So the save announces its job to the hypervisor over
 * a socket in the VM's (0700) state directory and keeps the connection open: when it closes without the
 * save saying it is done, the hypervisor cancels the job, drops the target node and removes the staging
 * directory. The kernel closes the socket of a killed process, so no polling is needed.
 */
export interface SaveAnnouncement {
  /** QEMU block job id and the block node it writes. */
  job: string;
  node: string;
  /** The save's staging directory: everything in it is the save's own. */
  staging: string;
}

const DONE = { done: true };
const CANCEL_WAIT_MS = 10_000;

/** The hypervisor's side: listens on `socket` for saves of its VM, cleaning up after the ones that die. */
export async function listenForSaves(socket: string, control: QmpClient): Promise<net.Server> {
  const server = net.createServer((conn) => {
    let save: SaveAnnouncement | undefined;
    let done = false;
    const split = new JsonValueSplitter();
    conn.setEncoding("utf8");
    conn.on("data", (chunk: string) => {
      let values: unknown[];
      try {
        values = split.push(chunk);
      } catch {
        return void conn.destroy();
      }
      for (const value of values) {
        const m = (value ?? {}) as Partial<SaveAnnouncement & typeof DONE>;
        if (m.done === true) done = true;
        else if (typeof m.job === "string" && typeof m.node === "string" && isStagingDir(m.staging))
          save = { job: m.job, node: m.node, staging: m.staging };
      }
    });
    conn.on("error", () => undefined);
    conn.on("close", () => {
      if (save && !done) void abandonSave(control, save);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, () => resolve());
  });
  return server;
}

/** Only a repository's work-in-progress entry (`<repo>/.tmp/<entry>`) is ever removed for a save. */
function isStagingDir(path: unknown): path is string {
  return typeof path === "string" && isAbsolute(path) && basename(dirname(path)) === ".tmp";
}

/** Ends a dead save's block job, then removes what it wrote. Best effort: each step may have not happened. */
async function abandonSave(control: QmpClient, save: SaveAnnouncement): Promise<void> {
  const jobs = await control.execute<Array<{ device: string }>>("query-block-jobs").catch(() => []);
  if (jobs.some((j) => j.device === save.job)) {
    const ended = blockJobEnded(control, save.job);
    await control.execute("block-job-cancel", { device: save.job, force: true }).catch(() => undefined);
    await Promise.race([ended, new Promise((r) => setTimeout(r, CANCEL_WAIT_MS).unref())]).catch(
      () => undefined,
    );
  }
  await control.execute("blockdev-del", { "node-name": save.node }).catch(() => undefined);
  await rm(save.staging, { recursive: true, force: true });
}

/** The save's side: announces its job; `done()` once it no longer needs cleaning up after. */
export async function announceSave(
  socket: string,
  save: SaveAnnouncement,
): Promise<{ done: () => Promise<void> }> {
  const conn = net.createConnection(socket);
  await new Promise<void>((resolve, reject) => {
    conn.once("connect", resolve);
    conn.once("error", reject);
  });
  conn.write(`${JSON.stringify(save)}\n`);
  return {
    done: () => new Promise<void>((resolve) => conn.end(`${JSON.stringify(DONE)}\n`, () => resolve())),
  };
}
