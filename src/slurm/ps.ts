import { userInfo } from "node:os";
import { loadConfig } from "../config/index.js";
import {
  clusterUserPrefix,
  leaseRecordKey,
  openKeystore,
  READINESS_STATE,
  readinessSubKey,
  readStartTiming,
  recordOrUndefined,
  type Keystore,
  type ReadinessState,
} from "../keystore/index.js";
import { squeueJobs, type SqueueJob } from "./commands.js";
import { startBreakdown, type StartBreakdown } from "./start-timing.js";

export interface ClusterRow {
  id: number;
  name: string;
  user: string;
  partition: string;
  nodes: number;
  nodeList: string;
  duration: string;
  timeLimit: string;
  state: string;
  /** Cluster definition, once the launcher has written it. */
  definition?: string;
  /** Each VM's readiness (`vmN` → state), when the cluster was started with `--wait`. */
  readiness?: Record<string, ReadinessState>;
  /** Start-up phases of the caller's own clusters (`--json`; other users' VM states are not readable). */
  startup?: StartBreakdown;
}

/** Table with pcocc's columns. */
export function formatClusterTable(rows: ClusterRow[]): string {
  const head = ["ID", "NAME", "USER", "PARTITION", "NODES", "DURATION", "TIMELIMIT"];
  const cells = rows.map((r) => [
    String(r.id),
    r.name,
    r.user,
    r.partition,
    String(r.nodes),
    r.duration,
    r.timeLimit,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n") + "\n";
}

/** SLURM jobs of `user` (all users with `all`) that are pcocc clusters, i.e. have their keys in etcd. */
export async function listClusters(opts: {
  user?: string;
  all?: boolean;
  timing?: boolean;
}): Promise<ClusterRow[]> {
  const me = userInfo().username;
  const user = opts.all ? undefined : (opts.user ?? me);
  const jobs = await squeueJobs({ user });
  if (jobs.length === 0) return [];
  const config = await loadConfig();
  const ks = await openKeystore({ config, as: "user" });
  try {
    const rows = await Promise.all(
      jobs.map(async (j): Promise<ClusterRow | undefined> => {
        const id = Number(j.jobId);
        if (!Number.isSafeInteger(id) || !(await ks.get(leaseRecordKey(id)))) return undefined;
        const def = await ks.get(`${clusterUserPrefix(j.user, id)}definition`).catch(() => undefined);
        const row = toRow(j, typeof def?.value === "string" ? def.value : undefined);
        const readiness = await readinessOf(ks, j.user, id);
        if (readiness) row.readiness = readiness;
        if (opts.timing && j.user === me)
          row.startup = startBreakdown(
            await readStartTiming(ks, me, id).catch(() => ({ hosts: {}, vms: {} })),
          );
        return row;
      }),
    );
    return rows.filter((r): r is ClusterRow => r !== undefined);
  } finally {
    await ks.close();
  }
}

/** The `--wait` gate's records of the job (only the job's user can read them). */
async function readinessOf(
  ks: Keystore,
  user: string,
  jobId: number,
): Promise<Record<string, ReadinessState> | undefined> {
  const base = clusterUserPrefix(user, jobId);
  const snap = await ks.getPrefix(`${base}state/ready/`).catch(() => undefined);
  const out: Record<string, ReadinessState> = {};
  for (const [key, e] of snap?.entries ?? []) {
    const rank = Number(key.slice(base.length).split("/").pop());
    const rec = recordOrUndefined(READINESS_STATE, e.value);
    if (Number.isInteger(rank) && rec && key === base + readinessSubKey(rank)) out[`vm${rank}`] = rec;
  }
  return Object.keys(out).length ? out : undefined;
}

function toRow(j: SqueueJob, definition: string | undefined): ClusterRow {
  const row: ClusterRow = {
    id: Number(j.jobId),
    name: j.name,
    user: j.user,
    partition: j.partition,
    nodes: Number(j.nodes),
    nodeList: j.nodeList,
    duration: j.elapsed,
    timeLimit: j.timeLimit,
    state: j.state,
  };
  if (definition !== undefined) row.definition = definition;
  return row;
}
