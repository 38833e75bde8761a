/**
 * etcd v3 key layout — pcocc's v2 paths kept as flat v3 keys, values JSON (pcocc wrote YAML).
 *
 *   /pcocc/global/<key>                                   root only (e.g. id allocator states:
 *       net/type/ethernet/key_alloc_state, net/type/ethernet/natip_alloc_state, …)
 *   /pcocc/global/public/<key>                            written by root, readable by every pcocc user
 *   /pcocc/global/users/<user>/<key>                      that user (e.g. clusters/<jobid>/ca_cert)
 *   /pcocc/cluster/<jobid>/<key>                          root setup, readable by every pcocc user:
 *       lease                {lease, userLease, user} — the job's two lease ids (see below)
 *       destroyed            {revision} — written when the job is torn down (job-id reuse guard)
 *       state/hosts/<rank>   HostState per node rank
 *       rank_map, <net>/<rank>, rnat/<vmrank>/<port>, coll_alloc/<path>/<key>, …
 *   /pcocc/cluster/users/<user>/<jobid>/<key>             that user (definition, resource_definition,
 *       state/vms/<rank>, …)
 *
 * Leases replace pcocc's directory TTLs: node rank 0's root setup grants two leases per job. The *job lease*
 * carries the root-written keys under /pcocc/cluster/<jobid>/; the *user lease* carries the user-written keys
 * under /pcocc/cluster/users/<user>/<jobid>/ and /pcocc/global/users/<user>/clusters/<jobid>/. Two are
 * needed because etcd refuses a put onto a lease that already holds keys the writer could not write itself.
 * The job's own processes keep both alive (any authenticated user may keep a lease alive), setup delete
 * revokes them, so the keys vanish at job end — or one TTL after the job's processes died.
 */

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

export const leaseRecordKey = (jobId: number): string => `${clusterPrefix(jobId)}lease`;
export const destroyedKey = (jobId: number): string => `${clusterPrefix(jobId)}destroyed`;
export const hostStateKey = (jobId: number, rank: number): string =>
  `${clusterPrefix(jobId)}state/hosts/${rank}`;
export const vmStateKey = (user: string, jobId: number, rank: number): string =>
  `${clusterUserPrefix(user, jobId)}state/vms/${rank}`;
/** Relative to the job's cluster prefix: where a collective allocation's result is published. */
export const collectiveSubKey = (allocPath: string, name: string): string =>
  `coll_alloc/${allocPath.replace(/^\/+/, "")}/${name}`;

const USER_RE = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;

/** Users and job ids become key path segments and role names: refuse anything that could escape. */
export function checkUserName(user: string): string {
  if (!USER_RE.test(user))
    throw new PcoccError(`invalid user name for the keystore: ${JSON.stringify(user)}`);
  return user;
}

export function checkJobId(jobId: number): number {
  if (!Number.isSafeInteger(jobId) || jobId < 0) throw new PcoccError(`invalid job id: ${String(jobId)}`);
  return jobId;
}
