import { randomInt } from "node:crypto";
import { PcoccError } from "../util/index.js";
import type { Keystore } from "./client.js";
import type { JobHandle } from "./jobs.js";
import {
  checkJobId,
  checkRecord,
  collectiveIds,
  collectiveSubKey,
  globalKey,
  idAllocState,
  recordOrUndefined,
  rootJobPrefix,
  type IdOwner,
} from "./layout.js";

export type { IdOwner };

function parseState(value: unknown, key: string, size: number): IdOwner[] {
  return value === undefined ? [] : checkRecord(idAllocState(size), key, value);
}

/** Lowest-first gap filling: the `count` smallest ids in [0, size) not in `state`. */
export function pickFreeIds(state: IdOwner[], size: number, count: number): number[] {
  if (state.length + count > size) return [];
  const used = new Set(state.map((e) => e.id));
  const out: number[] = [];
  for (let id = 0; out.length < count && id < size; id++) if (!used.has(id)) out.push(id);
  return out.length === count ? out : [];
}

/**
 * `count` distinct ids drawn at random from [0, size) minus `state`: for ids that must not be guessable
 * (a job's VNI). Falls back to the lowest free ones when the space is nearly full.
 */
export function pickRandomFreeIds(state: IdOwner[], size: number, count: number): number[] {
  if (state.length + count > size) return [];
  if ((state.length + count) * 2 > size) return pickFreeIds(state, size, count);
  const taken = new Set(state.map((e) => e.id));
  const out: number[] = [];
  while (out.length < count) {
    const id = randomInt(size);
    if (!taken.has(id)) {
      taken.add(id);
      out.push(id);
    }
  }
  return out;
}

/**
 * Ids (VXLAN VNIs, NAT IPs, reverse-NAT ports) shared by all jobs, kept in one global key updated with
 * compare-and-swap transactions, so concurrent setups on many nodes never hand one id to two live jobs.
 */
export class IdAllocator {
  readonly key: string;

  constructor(
    private readonly ks: Keystore,
    /** Path under /pcocc/global/, e.g. `net/type/ethernet/key_alloc_state`. */
    readonly keyPath: string,
    readonly size: number,
    /** `random`: ids that must not be guessable; `lowest` (default): gap filling, compact ranges. */
    private readonly pick: "lowest" | "random" = "lowest",
  ) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new PcoccError(`invalid id allocator size ${size}`);
    this.key = globalKey(keyPath);
  }

  async list(): Promise<IdOwner[]> {
    return parseState((await this.ks.get(this.key))?.value, this.key, this.size);
  }

  /**
   * Allocates `count` ids to `jobId`. When `liveJobs` is given, ids of jobs not in it are reclaimed in the
   * same transaction (pcocc's lazy leftover cleanup).
   */
  async alloc(jobId: number, count: number, opts: { liveJobs?: number[] } = {}): Promise<number[]> {
    checkJobId(jobId);
    if (!Number.isSafeInteger(count) || count < 0) throw new PcoccError(`invalid id count ${count}`);
    const live = opts.liveJobs && new Set([...opts.liveJobs, jobId]);
    return this.ks.update<IdOwner[], number[]>(this.key, (raw) => {
      let state = parseState(raw, this.key, this.size);
      if (live) state = state.filter((e) => live.has(e.job));
      const ids = (this.pick === "random" ? pickRandomFreeIds : pickFreeIds)(state, this.size, count);
      if (ids.length !== count) throw new PcoccError(`Not enough free ids in ${this.keyPath}`);
      const next = [...state, ...ids.map((id) => ({ id, job: jobId }))].sort((a, b) => a.id - b.id);
      return { value: next, result: ids };
    });
  }

  /** Frees `ids` (all of the job's ids if omitted); ids owned by another job are left alone. */
  async free(jobId: number, ids?: number[]): Promise<void> {
    checkJobId(jobId);
    const drop = ids && new Set(ids);
    await this.rewrite((state) => state.filter((e) => !(e.job === jobId && (!drop || drop.has(e.id)))));
  }

  freeJob(jobId: number): Promise<void> {
    return this.free(jobId);
  }

  /** Drops ids of jobs that are no longer running; returns how many were reclaimed. */
  async cleanup(liveJobs: number[]): Promise<number> {
    const live = new Set(liveJobs);
    let removed = 0;
    await this.rewrite((state) => {
      const kept = state.filter((e) => live.has(e.job));
      removed = state.length - kept.length;
      return kept;
    });
    return removed;
  }

  private async rewrite(fn: (state: IdOwner[]) => IdOwner[]): Promise<void> {
    await this.ks.update<IdOwner[], void>(this.key, (raw) => {
      const state = parseState(raw, this.key, this.size);
      const next = fn(state);
      // No write when nothing changed: frees are frequent and mostly no-ops on non-master nodes.
      return { value: next, result: undefined, unchanged: next.length === state.length };
    });
  }

  /**
   * One allocation for the whole job: node `master` allocates and publishes the ids under the job's lease,
   * the other nodes wait for them on a watch. Re-running on the master returns the same ids.
   */
  async collectiveAlloc(
    job: JobHandle,
    opts: { count: number; master: number; nodeRank: number; name: string; timeoutMs?: number },
  ): Promise<number[]> {
    // root-only: the ids may be secrets (a job's VNI), and only the job's root setups read them
    const key = rootJobPrefix(job.jobId) + collectiveSubKey(this.keyPath, opts.name);
    // a result that is not the requested count of ids is none yet (a master's re-run rewrites it)
    const format = collectiveIds(opts.count, this.size);
    const valid = (v: unknown): number[] | undefined => recordOrUndefined(format, v);
    if (opts.nodeRank === opts.master) {
      const existing = valid((await this.ks.get(key))?.value);
      if (existing) return existing;
      const ids = await this.alloc(job.jobId, opts.count);
      await job.putRoot(collectiveSubKey(this.keyPath, opts.name), ids);
      return ids;
    }
    return this.ks.waitFor(key, (entries) => valid(entries.get(key)?.value), {
      timeoutMs: opts.timeoutMs ?? 30_000,
      timeoutMessage: `Timeout waiting for key: ${key}`,
    });
  }
}
