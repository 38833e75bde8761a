import { z } from "zod";
import type { Keystore } from "./client.js";
import type { JobHandle } from "./jobs.js";
import {
  checkJobId,
  checkUserName,
  clusterPrefix,
  clusterUserPrefix,
  HOST_STATE,
  launcherTimingKey,
  PHASE_TIMES,
  recordOrUndefined,
  VM_STATE,
  type PhaseTimes,
  type RecordFormat,
} from "./layout.js";

export type { PhaseTimes };

const RANK_MAP: RecordFormat<number[]> = { what: "rank map", schema: z.array(z.number().int().min(0)) };

/**
 * One process's start-up phases as they end. `start` is the process's own start (node's time origin), so
 * the time spent loading pcocc counts too.
 */
export class PhaseClock {
  readonly phases: PhaseTimes = { start: Math.round(performance.timeOrigin) };

  mark(phase: string): void {
    this.phases[phase] = Date.now();
  }
}

/** A job's start-up as its parts recorded it: the launcher's phases, each node's and each VM's by rank. */
export interface StartTiming {
  launcher?: PhaseTimes;
  hosts: Record<number, PhaseTimes>;
  vms: Record<number, PhaseTimes>;
  /** The node index each VM ran on (the launcher's rank map), once written. */
  vmNodes?: number[];
}

export async function putLauncherTiming(job: JobHandle, phases: PhaseTimes): Promise<void> {
  await job.putUser("timing/launcher", phases);
}

function byRank<S extends { phases?: PhaseTimes }>(
  entries: Map<string, { value: unknown }>,
  prefix: string,
  parse: (v: unknown) => S | undefined,
): Record<number, PhaseTimes> {
  const out: Record<number, PhaseTimes> = {};
  for (const [key, e] of entries) {
    if (!key.startsWith(prefix)) continue;
    const rank = key.slice(prefix.length);
    const phases = /^(0|[1-9][0-9]{0,6})$/.test(rank) ? parse(e.value)?.phases : undefined;
    if (phases) out[Number(rank)] = phases;
  }
  return out;
}

/** Reads what the job's parts recorded (two reads); a malformed record counts as not recorded. */
export async function readStartTiming(ks: Keystore, user: string, jobId: number): Promise<StartTiming> {
  const hostPrefix = `${clusterPrefix(checkJobId(jobId))}state/hosts/`;
  const userPrefix = clusterUserPrefix(checkUserName(user), jobId);
  const [hosts, mine] = await Promise.all([ks.getPrefix(hostPrefix), ks.getPrefix(`${userPrefix}`)]);
  const launcher = mine.entries.get(launcherTimingKey(user, jobId));
  const rankMap = mine.entries.get(`${userPrefix}rank_map`);
  return {
    launcher: launcher && recordOrUndefined(PHASE_TIMES, launcher.value),
    vmNodes: rankMap && recordOrUndefined(RANK_MAP, rankMap.value),
    hosts: byRank(hosts.entries, hostPrefix, (v) => recordOrUndefined(HOST_STATE, v)),
    vms: byRank(mine.entries, `${userPrefix}state/vms/`, (v) => recordOrUndefined(VM_STATE, v)),
  };
}
