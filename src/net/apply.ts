import { constants } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { PcoccError } from "../util/index.js";
import { nft, runOps, spawnIn } from "./native.js";
import { addBridge, deleteBridge } from "./ovs.js";
import { OvsdbClient } from "./ovsdb.js";
import type { JobRecord, NodePlan } from "./plan.js";
import { removeJobDir, writeRecord } from "./records.js";

export interface ApplyOptions {
  ovsdbSocket: string;
}

/** Makes what the plan says, in order. The record is written first; on failure the caller tears down. */
export async function applyPlan(plan: NodePlan, opts: ApplyOptions): Promise<void> {
  // Bridges are recorded once made, so a node whose OVS is down can still undo a failed create; a crash
  // right after a bridge is made leaves a pcocc-named bridge that `setup cleanup` sweeps.
  const record = { ...plan.record, bridges: [] as string[] };
  await writeRecord(record);
  let ovs: OvsdbClient | undefined;
  try {
    for (const step of plan.steps) {
      switch (step.kind) {
        case "netns":
          await runOps([{ op: "netnsAdd", name: step.name }]);
          break;
        case "ops":
          await runOps(step.ops, step.netns);
          break;
        case "nft":
          await nft(step.doc, step.netns);
          break;
        case "ovs-bridge":
          ovs ??= await OvsdbClient.open(opts.ovsdbSocket);
          await addBridge(ovs, step.bridge, { wait: true });
          record.bridges.push(step.bridge.name);
          await writeRecord(record);
          break;
        case "file":
          await writeOwnFile(step.path, step.content, step.owner);
          break;
        case "daemon": {
          const r = await spawnIn(step.netns, step.argv);
          if (r.status !== 0)
            throw new PcoccError(`${step.argv[0]} failed to start (exit ${r.status}): ${r.stderr.trim()}`);
          break;
        }
      }
    }
  } finally {
    ovs?.close();
  }
}

/** Root's alone, or only `owner`'s (read-only): the job's VM names and MACs are nobody else's business. */
async function writeOwnFile(path: string, content: string, owner: string | undefined): Promise<void> {
  const ids = owner === undefined ? undefined : await accountIds(owner);
  const fh = await open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    await fh.writeFile(content);
    if (ids) {
      await fh.chown(ids.uid, ids.gid);
      await fh.chmod(0o400);
    }
  } finally {
    await fh.close();
  }
}

async function accountIds(name: string): Promise<{ uid: number; gid: number }> {
  for (const line of (await readFile("/etc/passwd", "utf8")).split("\n")) {
    const f = line.split(":");
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new PcoccError(`unknown account ${name} (the user dnsmasq runs as)`);
}

async function stopDaemon(pidFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, "utf8")).trim());
  } catch {
    return;
  }
  if (!Number.isSafeInteger(pid) || pid <= 1) return;
  // Only a dnsmasq started with this very pid file: the record's file may be stale and the pid reused.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  if (!cmdline.split("\0").includes(`--pid-file=${pidFile}`)) return;
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const left = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!left.includes(pidFile)) return;
  }
  process.kill(pid, "SIGKILL");
}

/**
 * Removes what a record lists; absent objects are fine (a crash may have stopped creation half-way).
 * Every part is attempted; the first error is rethrown at the end.
 */
export async function teardown(rec: JobRecord, opts: ApplyOptions): Promise<void> {
  const errors: unknown[] = [];
  const attempt = async (fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  };
  for (const f of rec.pidFiles) await attempt(() => stopDaemon(f));
  if (rec.bridges.length > 0) {
    await attempt(async () => {
      const ovs = await OvsdbClient.open(opts.ovsdbSocket);
      try {
        for (const b of rec.bridges) await deleteBridge(ovs, b, { wait: true });
      } finally {
        ovs.close();
      }
    });
  }
  if (rec.nftTables.length > 0)
    await attempt(() =>
      nft({
        nftables: rec.nftTables.flatMap((name) => [
          { add: { table: { family: "ip", name } } },
          { delete: { table: { family: "ip", name } } },
        ]),
      }),
    );
  await attempt(() =>
    runOps([
      ...(rec.linkGroup > 0 ? [{ op: "linkDelGroup" as const, group: rec.linkGroup }] : []),
      ...rec.links.map((name) => ({ op: "linkDel" as const, name, ifExists: true })),
    ]),
  );
  await attempt(() => runOps(rec.netns.map((name) => ({ op: "netnsDel" as const, name, ifExists: true }))));
  if (errors.length === 0) await removeJobDir(rec);
  if (errors.length > 0) throw errors[0];
}
