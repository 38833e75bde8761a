import { lookup } from "node:dns/promises";
import { hostname } from "node:os";
import type { PcoccConfig } from "../config/index.js";
import {
  clusterPrefix,
  IdAllocator,
  netRecordSubKey,
  openKeystore,
  rnatSubKey,
  type JobHandle,
  type Keystore,
} from "../keystore/index.js";
import { PcoccError } from "../util/index.js";
import { extIdCount, subnet } from "./addressing.js";
import { applyPlan, teardown } from "./apply.js";
import { listLinks, nft, runOps } from "./native.js";
import { netViews } from "./net-view.js";
import { DEFAULT_OVSDB_SOCKET } from "./ovsdb.js";
import {
  allocationNeeds,
  EXTIP_ALLOC_PATH,
  jobNetworks,
  planCleanupTables,
  planInit,
  planNode,
  VNI_ALLOC_PATH,
  VNI_BASE,
  VNI_IDS,
  type JobRecord,
  type JobSpec,
  type NetAllocation,
} from "./plan.js";
import { DEFAULT_RUN_DIR, listRecords, readRecord, withNodeLock } from "./records.js";
import { sweepStrays, type Strays } from "./strays.js";

export interface SetupOptions {
  ovsdbSocket?: string;
  runDir?: string;
  /**
   * pcocc's `--nolock`: skip the node lock. Only an administrator's own command outside any SLURM step
   * (the CLI refuses it elsewhere; the SPANK plugin never passes it), who answers for no concurrent setup.
   */
  nolock?: boolean;
  /** An open root keystore for cleanup (tests, bench); otherwise one is opened from the config. */
  keystore?: Keystore;
  /** Returns the underlay address of a node name (default: the resolver, i.e. /etc/hosts or DNS). */
  resolveNode?: (name: string) => Promise<string>;
}

interface Resolved {
  ovsdbSocket: string;
  runDir: string;
  nolock: boolean;
}

const defaults = (o: SetupOptions): Resolved => ({
  ovsdbSocket: o.ovsdbSocket ?? DEFAULT_OVSDB_SOCKET,
  runDir: o.runDir ?? DEFAULT_RUN_DIR,
  nolock: o.nolock === true,
});

/** The node lock, unless `--nolock` asked to go without it. */
const locked = <T>(d: Resolved, fn: () => Promise<T>): Promise<T> =>
  d.nolock ? fn() : withNodeLock(d.runDir, fn);

async function resolveAddr(name: string): Promise<string> {
  try {
    return (await lookup(name, { family: 4 })).address;
  } catch {
    throw new PcoccError(`cannot resolve the address of node ${name}`);
  }
}

/** Node-level objects of every configured network; idempotent. */
export async function setupInit(config: PcoccConfig, opts: SetupOptions = {}): Promise<void> {
  await locked(defaults(opts), async () => {
    const { doc, forwarding } = planInit(config);
    await nft(doc);
    if (forwarding) await runOps([{ op: "sysctl", path: "/proc/sys/net/ipv4/ip_forward", value: "1" }]);
  });
}

/**
 * Removes every job's objects whose job is not in `liveJobs` (leftovers of crashed jobs), including their
 * allocator ids, and strays. The node-level objects (nftables table, forwarding) go too, but only when no
 * live job still has objects here: they carry its VMs' NAT and isolation. Run by an admin or by the
 * systemd unit's stop, it never breaks a running job; `kept` names the jobs it left in place. Idempotent.
 */
export async function setupCleanup(
  config: PcoccConfig,
  opts: SetupOptions & { liveJobs: number[] },
): Promise<{ reclaimed: number[]; kept: number[]; strays: Strays }> {
  const d = defaults(opts);
  const live = new Set(opts.liveJobs);
  const reclaimed: number[] = [];
  let kept: number[] = [];
  let strays: Strays = { links: [], bridges: [], netns: [], tables: [] };
  await locked(d, async () => {
    const dead = (await listRecords(d.runDir)).filter((r) => !live.has(r.jobId));
    for (const rec of dead) {
      await teardown(rec, d);
      reclaimed.push(rec.jobId);
    }
    const left = await listRecords(d.runDir);
    kept = left.map((r) => r.jobId).sort((a, b) => a - b);
    strays = await sweepStrays(config, left, live, d.ovsdbSocket);
    if (kept.length === 0) await removeNodeObjects(config);
  });
  if (Object.keys(config.networks).length > 0) {
    const ks = opts.keystore ?? (await openKeystore({ config, as: "root" }));
    try {
      for (const a of allocators(ks, config)) await a.cleanup([...live]);
    } finally {
      if (!opts.keystore) await ks.close();
    }
  }
  return { reclaimed, kept, strays };
}

async function removeNodeObjects(config: PcoccConfig): Promise<void> {
  await nft(planCleanupTables());
  const managed = netViews(config.networks).some(
    (n) => n.settings["network-layer"] === "L3" && n.settings["manage-ip-forward"],
  );
  if (managed) await runOps([{ op: "sysctl", path: "/proc/sys/net/ipv4/ip_forward", value: "0" }]);
}

function allocators(ks: Keystore, config: PcoccConfig): IdAllocator[] {
  return [vniAllocator(ks), extAllocator(ks, config)];
}

/** VNIs are drawn at random: another user who guesses a job's VNI must not find it lowest-first. */
function vniAllocator(ks: Keystore): IdAllocator {
  return new IdAllocator(ks, VNI_ALLOC_PATH, VNI_IDS, "random");
}

/** One pool of external addresses for all L3 networks (as pcocc), sized by the smallest ext network. */
function extAllocator(ks: Keystore, config: PcoccConfig): IdAllocator {
  let size = 65534;
  for (const n of netViews(config.networks))
    if (n.settings["network-layer"] === "L3")
      size = Math.min(size, extIdCount(subnet(n.settings["ext-network"], `ext-network of ${n.name}`)));
  return new IdAllocator(ks, EXTIP_ALLOC_PATH, size);
}

/**
 * Per job, per node, under the job's keystore handle (see job/lifecycle.ts): allocate, plan, apply, publish.
 * On failure everything made is removed again.
 */
export async function setupCreate(
  config: PcoccConfig,
  job: JobSpec,
  handle: JobHandle,
  opts: SetupOptions = {},
): Promise<void> {
  const nets = jobNetworks(config, job);
  await createOnNode(config, job, nets, handle, defaults(opts), opts.resolveNode ?? resolveAddr);
}

async function createOnNode(
  config: PcoccConfig,
  job: JobSpec,
  nets: ReturnType<typeof jobNetworks>,
  handle: JobHandle,
  d: Resolved,
  resolveNode: (name: string) => Promise<string>,
): Promise<void> {
  const ks = handle.ks;
  const vniAlloc = vniAllocator(ks);
  const extAlloc = extAllocator(ks, config);
  const allocs: Record<string, NetAllocation> = {};
  const ownExt: number[] = [];
  const ownVni: number[] = [];
  const release = async (): Promise<void> => {
    if (ownExt.length) await extAlloc.free(job.jobId, ownExt);
    if (ownVni.length) await vniAlloc.free(job.jobId, ownVni);
  };
  let record: JobRecord | undefined;
  try {
    const needs = allocationNeeds(nets, job.nodeRank).filter((n) => n.here);
    const [addrs] = await Promise.all([
      Promise.all(job.nodes.map((n) => resolveNode(n + hostIfSuffix(nets)))),
      Promise.all(
        needs.map(async (n) => {
          const jn = nets.find((x) => x.net.name === n.net)!;
          const [id] = n.vni
            ? await vniAlloc.collectiveAlloc(handle, {
                count: 1,
                master: jn.master,
                nodeRank: job.nodeRank,
                name: `${n.net}_tun_key`,
              })
            : [undefined];
          if (n.vniMaster && id !== undefined) ownVni.push(id);
          const extIds = n.extIds > 0 ? await extAlloc.alloc(job.jobId, n.extIds) : [];
          ownExt.push(...extIds);
          allocs[n.net] = { vni: id === undefined ? 0 : VNI_BASE + id, extIds };
        }),
      ),
    ]);
    await locked(d, async () => {
      if (await readRecord(d.runDir, job.jobId))
        throw new PcoccError(
          `job ${job.jobId} already has network objects on this node (run setup delete first)`,
        );
      const others = await listRecords(d.runDir);
      const links = await listLinks();
      const plan = planNode(
        config,
        job,
        {
          nodeAddrs: addrs,
          usedLinkNames: [...links.map((l) => l.name), ...others.flatMap((r) => [...r.links, ...r.bridges])],
          usedHostPorts: others.flatMap((r) => r.hostPorts),
          hostDomain: hostname().split(".").slice(1).join("."),
          runDir: d.runDir,
          dnsmasqUser: await dnsmasqUser(),
        },
        allocs,
      );
      record = plan.record;
      await applyPlan(plan, d);
      await handle.putMany([
        ...Object.entries(plan.published).map(([net, value]) => ({
          key: netRecordSubKey(net, job.nodeRank),
          value,
        })),
        ...plan.rnat.map((r) => ({ key: rnatSubKey(r.rank, r.vmPort), value: r.hostPort })),
      ]);
    });
  } catch (err) {
    // What applyPlan got to make is in the record file (bridges are added there as they are made).
    if (record) await teardown((await readRecord(d.runDir, job.jobId)) ?? record, d).catch(() => undefined);
    await release().catch(() => undefined);
    throw err;
  }
}

/** Debian's dnsmasq package makes an account of its own; elsewhere dnsmasq's default, nobody. */
async function dnsmasqUser(): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  return /^dnsmasq:/m.test(await readFile("/etc/passwd", "utf8")) ? "dnsmasq" : "nobody";
}

/** The tunnels' suffix (a nat network has no tunnel, hence no say). */
function hostIfSuffix(nets: ReturnType<typeof jobNetworks>): string {
  const suffixes = new Set(nets.flatMap((n) => (n.net.fixed ? [] : [n.net.settings["host-if-suffix"]])));
  if (suffixes.size > 1) throw new PcoccError("networks of one job must share host-if-suffix");
  return [...suffixes][0] ?? "";
}

/**
 * The rank this node had in a job, from the job's root-owned record: for an administrator's `setup delete -j`,
 * where no slurmstepd gives it. Undefined when this node holds no setup of the job.
 */
export async function recordedNodeRank(jobId: number, opts: SetupOptions = {}): Promise<number | undefined> {
  const rank = (await readRecord(defaults(opts).runDir, jobId))?.nodeRank;
  if (rank !== undefined && !(Number.isSafeInteger(rank) && rank >= 0))
    throw new PcoccError(`corrupt network setup record for job ${jobId}: node rank ${String(rank)}`);
  return rank;
}

/**
 * Per job, per node: removes exactly what create recorded and frees this node's allocations (the job's
 * keystore life is ended by job/lifecycle.ts).
 */
export async function setupDelete(
  config: PcoccConfig,
  job: Pick<JobSpec, "jobId" | "nodeRank">,
  ks: Keystore,
  opts: SetupOptions = {},
): Promise<void> {
  const d = defaults(opts);
  const rec = await locked(d, async () => {
    const r = await readRecord(d.runDir, job.jobId);
    if (r) await teardown(r, d);
    return r;
  });
  if (rec) {
    const extIds = Object.values(rec.extIds).flat();
    if (extIds.length) await extAllocator(ks, config).free(job.jobId, extIds);
    const vnis = Object.values(rec.vnis).map((v) => v - VNI_BASE);
    if (vnis.length) await vniAllocator(ks).free(job.jobId, vnis);
    for (const k of rec.keys) await ks.delete(clusterPrefix(job.jobId) + k);
  }
}
