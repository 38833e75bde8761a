import type { Keystore, LeaseKeeper, PutItem } from "./client.js";
import {
  checkJobId,
  checkRecord,
  checkUserName,
  clusterPrefix,
  clusterUserPrefix,
  destroyedKey,
  globalUserJobPrefix,
  LEASE_RECORD,
  leaseRecordKey,
  rootJobPrefix,
  recordOrUndefined,
  rootLeaseKey,
  userLeaseKey,
  type JobMarker,
  type LeaseRecord,
} from "./layout.js";

/** Long enough to cover the gap between setup create and the launcher's first keep-alive. */
const DEFAULT_JOB_TTL_SECONDS = 120;
/** How long the `destroyed` marker guards a job id against a late node of the old job. */
const DESTROYED_TTL_SECONDS = 600;

/** A job's keys as seen by one process: writes get the right lease attached automatically. */
export interface JobHandle {
  readonly ks: Keystore;
  readonly jobId: number;
  readonly user: string;
  readonly lease: string;
  readonly userLease: string;
  readonly ttl: number;
  /** Root-written job key (`/pcocc/cluster/<jobid>/<key>`), under the job lease. */
  put(key: string, value: unknown): Promise<void>;
  /** Several root-written job keys in one txn. */
  putMany(items: Array<{ key: string; value: unknown }>): Promise<void>;
  /** Root-only job key (`/pcocc/global/jobs/<jobid>/<key>`), under the job lease: what users must not read. */
  putRoot(key: string, value: unknown): Promise<void>;
  /** User-written job key (`/pcocc/cluster/users/<user>/<jobid>/<key>`), under the user lease. */
  putUser(key: string, value: unknown): Promise<void>;
  /** Several user-written job keys in one txn. */
  putUserMany(items: Array<{ key: string; value: unknown }>): Promise<void>;
  /** User key in the global tree (`/pcocc/global/users/<user>/clusters/<jobid>/<key>`), under the user lease. */
  putGlobalUser(key: string, value: unknown): Promise<void>;
  /** Keeps both leases alive until closed; `onLost` fires if they vanished (job torn down or expired). */
  keepAlive(onLost?: () => void): LeaseKeeper;
}

function handle(ks: Keystore, jobId: number, rec: LeaseRecord): JobHandle {
  const base = clusterPrefix(jobId);
  const userBase = clusterUserPrefix(rec.user, jobId);
  return {
    ks,
    jobId,
    user: rec.user,
    lease: rec.lease,
    userLease: rec.userLease,
    ttl: rec.ttl,
    put: async (key, value) => {
      await ks.put(base + key, value, { lease: rec.lease });
    },
    putMany: (items) =>
      ks.putMany(items.map((i): PutItem => ({ key: base + i.key, value: i.value, lease: rec.lease }))),
    putRoot: async (key, value) => {
      await ks.put(rootJobPrefix(jobId) + key, value, { lease: rec.lease });
    },
    putUser: async (key, value) => {
      await ks.put(userBase + key, value, { lease: rec.userLease });
    },
    putUserMany: (items) =>
      ks.putMany(
        items.map((i): PutItem => ({ key: userBase + i.key, value: i.value, lease: rec.userLease })),
      ),
    putGlobalUser: async (key, value) => {
      await ks.put(globalUserJobPrefix(rec.user, jobId) + key, value, { lease: rec.userLease });
    },
    keepAlive: (onLost) => ks.keepAlive([rec.lease, rec.userLease], rec.ttl, () => onLost?.()),
  };
}

/** Root's lease record of `jobId`, if any; a malformed one is an error naming its key. */
async function rootRecord(ks: Keystore, jobId: number): Promise<LeaseRecord | undefined> {
  const e = await ks.get(rootLeaseKey(jobId));
  return e && checkRecord(LEASE_RECORD, e.key, e.value);
}

/** A record root cannot read names no lease to revoke: it is dropped so that the job id can be used again. */
async function staleRecord(ks: Keystore, jobId: number): Promise<LeaseRecord | undefined> {
  const e = await ks.get(rootLeaseKey(jobId));
  if (!e) return undefined;
  const rec = recordOrUndefined(LEASE_RECORD, e.value);
  if (!rec) await ks.delete(e.key);
  return rec;
}

/**
 * Root setup on node rank 0: starts the job's life in etcd. Leftovers of an earlier job with the same id
 * (a crash before its leases expired, or SLURM job ids restarting) are revoked first. The records go in
 * one txn, so neither lease is ever without a key of root's (see layout.ts: what keeps other users off).
 */
export async function beginJob(
  ks: Keystore,
  opts: { jobId: number; user: string; ttlSeconds?: number },
): Promise<JobHandle> {
  const jobId = checkJobId(opts.jobId);
  const user = checkUserName(opts.user);
  const ttl = opts.ttlSeconds ?? DEFAULT_JOB_TTL_SECONDS;
  const stale = await staleRecord(ks, jobId);
  if (stale) await revokeJob(ks, jobId, stale);
  const [lease, userLease] = await Promise.all([ks.grantLease(ttl), ks.grantLease(ttl)]);
  const rec: LeaseRecord = { lease, userLease, user, ttl };
  const marker: JobMarker = { user };
  await ks.putMany([
    { key: rootLeaseKey(jobId), value: rec, lease },
    { key: leaseRecordKey(jobId), value: marker, lease },
    { key: userLeaseKey(user, jobId), value: rec, lease: userLease },
  ]);
  return handle(ks, jobId, rec);
}

/**
 * Any other process of the job (setup on other nodes, launcher, hypervisors, CLI): waits for node 0's
 * lease record — root reads its own, the job's user their copy (other users have none to read). A root
 * record older than the job's `destroyed` marker belongs to the previous job with this id and is ignored,
 * so late nodes never attach keys to a dead lease.
 */
export async function joinJob(ks: Keystore, opts: { jobId: number; timeoutMs?: number }): Promise<JobHandle> {
  const jobId = checkJobId(opts.jobId);
  const asRoot = ks.user === "" || ks.user === "root";
  const key = asRoot ? rootLeaseKey(jobId) : userLeaseKey(checkUserName(ks.user), jobId);
  // the user's own copy alone, not their job tree: it holds every VM's state, which grows with the job
  const prefix = asRoot ? rootJobPrefix(jobId) : key;
  const rec = await ks.waitFor(
    prefix,
    (entries) => {
      const entry = entries.get(key);
      if (!entry) return undefined;
      const destroyed = entries.get(destroyedKey(jobId));
      if (destroyed && destroyed.modRevision > entry.modRevision) return undefined;
      const r = checkRecord(LEASE_RECORD, key, entry.value);
      if (!asRoot && r.user !== ks.user) return undefined;
      return r;
    },
    {
      timeoutMs: opts.timeoutMs ?? 60_000,
      timeoutMessage: `Timeout waiting for key: ${key} (job ${jobId} not set up in the keystore)`,
    },
  );
  return handle(ks, jobId, rec);
}

async function revokeJob(ks: Keystore, jobId: number, rec: LeaseRecord): Promise<void> {
  await ks.put(
    destroyedKey(jobId),
    { lease: rec.lease },
    { lease: await ks.grantLease(DESTROYED_TTL_SECONDS) },
  );
  await Promise.all([ks.revokeLease(rec.lease), ks.revokeLease(rec.userLease)]);
}

/** Root setup delete on node rank 0: every key of the job disappears now; a marker guards id reuse. */
export async function endJob(ks: Keystore, jobId: number): Promise<void> {
  checkJobId(jobId);
  const rec = await rootRecord(ks, jobId);
  if (!rec) return;
  await revokeJob(ks, jobId, rec);
}
