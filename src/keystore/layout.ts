/**
 * etcd v3 key layout — pcocc's v2 paths kept as flat v3 keys, values JSON (pcocc wrote YAML).
 *
 *   /pcocc/global/<key>                                   root only (e.g. id allocator states:
 *       net/type/ethernet/key_alloc_state, net/type/ethernet/natip_alloc_state, …)
 *   /pcocc/global/public/<key>                            written by root, readable by every pcocc user
 *   /pcocc/global/users/<user>/<key>                      that user (e.g. clusters/<jobid>/ca_cert)
 *   /pcocc/global/jobs/<jobid>/                           root only:
 *       lease                LeaseRecord — the job's two lease ids (see below)
 *       destroyed            written when the job is torn down (job-id reuse guard)
 *       coll_alloc/<path>/<key>  ids one node allocated for the whole job (e.g. a network's VNI)
 *   /pcocc/cluster/<jobid>/<key>                          root setup, readable by every pcocc user:
 *       lease                JobMarker {user} — the job exists and whose it is (no lease ids)
 *       state/hosts/<rank>   HostState per node rank
 *       <net>/<rank>         NodeNetRecord (no VNI), rnat/<vmrank>/<port> host port, …
 *   /pcocc/cluster/users/<user>/<jobid>/<key>             that user (definition, resource_definition,
 *       rank_map, nodes, state/vms/<rank>, …; `lease`: root's copy of the LeaseRecord, see below;
 *       `secret`: the job's shared secret of the cluster facts, which no other user may read;
 *       state/ready/<rank>: the `--wait` gate's view of each VM)
 *
 * Leases replace pcocc's directory TTLs: node rank 0's root setup grants two leases per job. The *job lease*
 * carries the root-written keys under /pcocc/cluster/<jobid>/; the *user lease* carries the user-written keys
 * under /pcocc/cluster/users/<user>/<jobid>/ and /pcocc/global/users/<user>/clusters/<jobid>/. Two are
 * needed because etcd refuses a put onto a lease that already holds keys the writer could not write itself
 * (and a revoke of it). That rule is also what keeps other users off a job's leases: root attaches a key of
 * its own at creation to each (the job lease its job keys, the user lease the user's copy of the lease
 * record, a key in the user's own tree), so only root — and the user, for the user lease — may attach to or
 * revoke them. etcd 3.4 checks nothing on keep-alive and time-to-live: lease ids are chosen at random by
 * root and only stored where the job's user and root can read them. The job's own processes keep both
 * alive, setup delete revokes them, so the keys vanish at job end — or one TTL after the job's processes died.
 *
 * Every value read back is JSON checked against the zod schema below its key: etcd contents are input.
 */

import { z } from "zod";
import { SECRET_PATTERN } from "../cluster/index.js";
import { PcoccError } from "../util/index.js";

const ROOT = "/pcocc";

export function globalKey(key: string): string {
  return `${ROOT}/global/${key}`;
}

function globalUserPrefix(user: string): string {
  return `${ROOT}/global/users/${user}/`;
}

export function clusterPrefix(jobId: number): string {
  return `${ROOT}/cluster/${jobId}/`;
}

export function clusterUserPrefix(user: string, jobId: number): string {
  return `${ROOT}/cluster/users/${user}/${jobId}/`;
}

/** Prefix of every key a user may write; used for the role grants. */
export function userWritablePrefixes(user: string): string[] {
  return [`${ROOT}/cluster/users/${user}/`, globalUserPrefix(user)];
}

/**
 * Key ranges every pcocc user may read: the job trees `/pcocc/cluster/<jobid>/` (pcocc granted all of
 * `/pcocc/cluster/`, but v3 grants cannot subtract, and that would expose other users' `users/<user>/`
 * trees — job ids are digits, so they all sort before `users/`) and the public tree.
 */
export function userReadableRanges(): Array<{ start: string; end?: string }> {
  return [{ start: `${ROOT}/cluster/`, end: `${ROOT}/cluster/users/` }, { start: `${ROOT}/global/public/` }];
}

/** Per-job user keys outside the cluster tree (pcocc's `global/user clusters/<jobid>/…`). */
export function globalUserJobPrefix(user: string, jobId: number): string {
  return `${globalUserPrefix(user)}clusters/${jobId}/`;
}

/** Public marker of a live job (`ps` lists jobs that have one); carries no lease id. */
export const leaseRecordKey = (jobId: number): string => `${clusterPrefix(jobId)}lease`;
/** Root-only part of a job: its lease record and destroyed marker. */
export const rootJobPrefix = (jobId: number): string => `${ROOT}/global/jobs/${jobId}/`;
export const rootLeaseKey = (jobId: number): string => `${rootJobPrefix(jobId)}lease`;
export const destroyedKey = (jobId: number): string => `${rootJobPrefix(jobId)}destroyed`;
/** The user's copy of the lease record, in their own tree and on the user lease. */
export const userLeaseKey = (user: string, jobId: number): string => `${clusterUserPrefix(user, jobId)}lease`;
export const hostStateKey = (jobId: number, rank: number): string =>
  `${clusterPrefix(jobId)}state/hosts/${rank}`;
export const vmStateKey = (user: string, jobId: number, rank: number): string =>
  `${clusterUserPrefix(user, jobId)}state/vms/${rank}`;
/** The launcher's start-up phases (PhaseTimes), in the user's tree. */
export const launcherTimingKey = (user: string, jobId: number): string =>
  `${clusterUserPrefix(user, jobId)}timing/launcher`;
/**
 * Holders of a persistent drive (pcocc's `mmp/<escaped realpath>`, one key per holding VM below it): the
 * path without its leading `/`, `_` doubled, `/` turned into `_`, as pcocc escaped it.
 */
export const driveHoldersPrefix = (user: string, realPath: string): string =>
  `${globalUserPrefix(user)}mmp/${realPath.replace(/^\/+/, "").replace(/_/g, "__").replace(/\//g, "_")}/`;
/** Relative to the job's cluster prefix: a node's part of network `net`. */
export const netRecordSubKey = (net: string, nodeRank: number): string => `${net}/${nodeRank}`;
/** Relative to the job's cluster prefix: the host port that reverse-NATs `vmRank:vmPort`. */
export const rnatSubKey = (vmRank: number, vmPort: number): string => `rnat/${vmRank}/${vmPort}`;
/** Relative to the job's cluster prefix: where a collective allocation's result is published. */
export const collectiveSubKey = (allocPath: string, name: string): string =>
  `coll_alloc/${allocPath.replace(/^\/+/, "")}/${name}`;

// ---- record formats ----------------------------------------------------------------------------------

/** What a record is called in errors, and its schema. */
export interface RecordFormat<T> {
  what: string;
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
}

/**
 * A value read from `key`, checked: a malformed record is a PcoccError naming the key and the first
 * offending field (never the value, which may be long or hostile).
 */
export function checkRecord<T>(format: RecordFormat<T>, key: string, value: unknown): T {
  if (value === undefined) throw new PcoccError(`keystore key ${key}: ${format.what} is missing or not JSON`);
  const r = format.schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const at = issue && issue.path.length > 0 ? ` (${issue.path.join(".")})` : "";
  throw new PcoccError(`keystore key ${key}: malformed ${format.what}${at}: ${issue?.message ?? "invalid"}`);
}

/** For readers where a malformed record means "not there (yet)": the checked value or undefined. */
export function recordOrUndefined<T>(format: RecordFormat<T>, value: unknown): T | undefined {
  const r = format.schema.safeParse(value);
  return r.success ? r.data : undefined;
}

const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;
/** etcd lease ids: positive int64 in decimal, as etcd3 (the library) passes them. */
const leaseId = z.string().regex(/^[1-9][0-9]{0,18}$/);
const userName = z.string().regex(USER_NAME);
const rank = z.number().int().min(0).max(9_999_999);
const port = z.number().int().min(1).max(65535);
const ipv4 = z
  .string()
  .regex(/^(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})(\.(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})){3}$/);
const linkName = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/);
const DESC_MAX = 1000;
const desc = z.string().transform((d) => d.slice(0, DESC_MAX));

export interface LeaseRecord {
  lease: string;
  userLease: string;
  user: string;
  ttl: number;
}
export const LEASE_RECORD: RecordFormat<LeaseRecord> = {
  what: "lease record",
  schema: z.object({
    lease: leaseId,
    userLease: leaseId,
    user: userName,
    ttl: z.number().int().min(1).max(86_400),
  }),
};

/** One VM holding a persistent drive read-write; `shared`: `mmp: cluster`, the job's other VMs may too. */
export interface DriveHolder {
  jobId: number;
  vm: string;
  host: string;
  user: string;
  shared: boolean;
}
export const DRIVE_HOLDER: RecordFormat<DriveHolder> = {
  what: "persistent drive holder",
  schema: z.object({
    jobId: z.number().int().min(1),
    vm: z.string().regex(/^vm\d{1,7}$/),
    host: z.string().regex(/^[A-Za-z0-9_.-]{1,253}$/),
    user: userName,
    shared: z.boolean(),
  }),
};

export interface JobMarker {
  user: string;
}

/**
 * When each start-up phase of one process ended (ms since the epoch); `start` is when the process itself
 * started. Written by the launcher (its own key), root setup (in its host state) and each hypervisor (in
 * its VM state), in the writes they make anyway: timing costs no etcd round trip of its own.
 */
export type PhaseTimes = Record<string, number>;
const MAX_PHASES = 32;
const phaseTimes = z
  .record(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/), z.number().finite().nonnegative())
  .refine((r) => Object.keys(r).length <= MAX_PHASES, { message: "too many phases" });
export const PHASE_TIMES: RecordFormat<PhaseTimes> = { what: "start-up timing", schema: phaseTimes };

/**
 * Host (per node) and VM (per rank) states, with pcocc's names, priorities and descriptions. The lowest
 * priority among nodes is what a waiting user is shown; `failed` (-1) ends the wait.
 */
export const HOST_STATES = {
  "not-started": { priority: 0, desc: "waiting for batch manager" },
  "network-config": { priority: 1, desc: "configuring networks" },
  complete: { priority: 2, desc: "done" },
  failed: { priority: -1, desc: "failed" },
} as const;
export type HostStateName = keyof typeof HOST_STATES;

export const VM_STATES = {
  "not-started": { priority: 0, desc: "waiting for hypervisor" },
  topology: { priority: 1, desc: "reading host topology" },
  "temporary-disk": { priority: 2, desc: "creating temporary disk" },
  "qemu-start": { priority: 3, desc: "starting qemu" },
  running: { priority: 4, desc: "running" },
  failed: { priority: -1, desc: "failed" },
} as const;
export type VmStateName = keyof typeof VM_STATES;

const stateName = <N extends string>(table: Record<N, unknown>) =>
  z.string().refine((s): s is N => Object.hasOwn(table, s), { message: "unknown state" });

export interface HostState {
  state: HostStateName;
  /** From the state table, whatever the record says. */
  priority: number;
  desc: string;
  since?: number;
  phases?: PhaseTimes;
}
export const HOST_STATE: RecordFormat<HostState> = {
  what: "host state",
  schema: z
    .object({
      state: stateName(HOST_STATES),
      desc: desc.default(""),
      since: z.number().optional(),
      phases: phaseTimes.optional(),
    })
    .transform((v) => ({ ...v, priority: HOST_STATES[v.state].priority })),
};

export interface VmState {
  state: VmStateName;
  priority: number;
  desc: string;
  hostname?: string;
  /** When the hypervisor entered this state (ms since the epoch). */
  since?: number;
  /** Last line of the VM's console while it boots. */
  consoleTail?: string;
  phases?: PhaseTimes;
}
export const VM_STATE: RecordFormat<VmState> = {
  what: "VM state",
  schema: z
    .object({
      state: stateName(VM_STATES),
      desc: desc.default(""),
      hostname: z.string().max(253).optional(),
      since: z.number().optional(),
      consoleTail: desc.optional(),
      phases: phaseTimes.optional(),
    })
    .transform((v) => ({ ...v, priority: VM_STATES[v.state].priority })),
};

/** One VM's NIC on one network, as the node's root setup made it. */
export interface VmNic {
  tap: string;
  mac: string;
  ip?: string;
  "ext-ip"?: string;
  hostPort?: number;
  "domain-name"?: string;
}
const VM_NIC = z.object({
  tap: linkName,
  mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i),
  ip: ipv4.optional(),
  "ext-ip": ipv4.optional(),
  hostPort: port.optional(),
  "domain-name": z.string().max(253).optional(),
});

/** `<net>/<node_rank>`: the NICs of the node's VMs on that network, and facts about the network. */
export interface NodeNetRecord {
  [vm: `vm-${number}`]: VmNic;
  global?: { int_br_name: string; key_id?: number; master: number };
}
export const NODE_NET_RECORD: RecordFormat<NodeNetRecord> = {
  what: "network record",
  schema: z
    .object({
      global: z
        .object({ int_br_name: linkName, key_id: z.number().int().optional(), master: rank })
        .optional(),
    })
    .catchall(VM_NIC)
    .superRefine((v, ctx) => {
      for (const k of Object.keys(v))
        if (k !== "global" && !/^vm-(0|[1-9][0-9]{0,6})$/.test(k))
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: [k], message: "unexpected entry" });
    }) as unknown as z.ZodType<NodeNetRecord, z.ZodTypeDef, unknown>,
};

/** Relative to the user's job prefix: the job's shared secret, written once by the launcher. */
export const JOB_SECRET_SUBKEY = "secret";
export const JOB_SECRET: RecordFormat<string> = {
  what: "job secret",
  schema: z.string().regex(SECRET_PATTERN),
};

/** Relative to the user's job prefix: VM `rank`'s readiness, written by the launcher's `--wait` gate. */
export const readinessSubKey = (rank: number): string => `state/ready/${rank}`;
export interface ReadinessState {
  state: "waiting" | "ready" | "failed";
  /** The check being waited for (waiting, failed). */
  check?: string;
  /** When the gate began waiting for the VM (ms since the epoch). */
  since: number;
  /** When it passed. */
  readyAt?: number;
}
export const READINESS_STATE: RecordFormat<ReadinessState> = {
  what: "readiness state",
  schema: z
    .object({
      state: z.enum(["waiting", "ready", "failed"]),
      check: desc.optional(),
      since: z.number(),
      readyAt: z.number().optional(),
    })
    .strict(),
};

export const RNAT_PORT: RecordFormat<number> = { what: "reverse NAT port", schema: port };

/**
 * The launcher's description of a cluster (user keys `definition`, `nodes`, `rank_map`): what every
 * per-cluster verb reads back. A VM's node index must name one of the nodes.
 */
export interface ClusterDescription {
  definition: string;
  nodes: string[];
  rankMap: number[];
}
export const CLUSTER_DESCRIPTION: RecordFormat<ClusterDescription> = {
  what: "cluster description",
  schema: z
    .object({
      definition: z.string().max(65_536),
      nodes: z.array(z.string().regex(/^[A-Za-z0-9._-]{1,255}$/)).min(1),
      rankMap: z.array(z.number().int().min(0)),
    })
    .refine((c) => c.rankMap.every((i) => i < c.nodes.length), { message: "VM on a node the job lacks" }),
};

/** One allocated id and the job that owns it (pcocc's `{pkey_index, batchid}`). */
export interface IdOwner {
  id: number;
  job: number;
}
export const idAllocState = (size: number): RecordFormat<IdOwner[]> => ({
  what: "id allocator state",
  schema: z.array(
    z.object({
      id: z
        .number()
        .int()
        .min(0)
        .max(size - 1),
      job: z.number().int().min(0),
    }),
  ),
});
export const collectiveIds = (count: number, size: number): RecordFormat<number[]> => ({
  what: "collective allocation",
  schema: z
    .array(
      z
        .number()
        .int()
        .min(0)
        .max(size - 1),
    )
    .length(count),
});

/** Users and job ids become key path segments and role names: refuse anything that could escape. */
export function checkUserName(user: string): string {
  if (!USER_NAME.test(user))
    throw new PcoccError(`invalid user name for the keystore: ${JSON.stringify(user)}`);
  return user;
}

export function checkJobId(jobId: number): number {
  if (!Number.isSafeInteger(jobId) || jobId < 0) throw new PcoccError(`invalid job id: ${String(jobId)}`);
  return jobId;
}
