import type { Entry, Following, Keystore } from "./client.js";
import type { JobHandle } from "./jobs.js";
import {
  checkJobId,
  checkUserName,
  HOST_STATE,
  HOST_STATES,
  hostStateKey,
  recordOrUndefined,
  VM_STATE,
  VM_STATES,
  vmStateKey,
  type HostState,
  type HostStateName,
  type PhaseTimes,
  type RecordFormat,
  type VmState,
  type VmStateName,
} from "./layout.js";

export { HOST_STATES, VM_STATES };
export type { HostState, HostStateName, VmState, VmStateName };

function hostState(state: HostStateName, desc?: string): HostState {
  return { state, priority: HOST_STATES[state].priority, desc: desc ?? HOST_STATES[state].desc };
}

export function vmState(state: VmStateName, opts: { desc?: string; hostname?: string } = {}): VmState {
  const s: VmState = { state, priority: VM_STATES[state].priority, desc: opts.desc ?? VM_STATES[state].desc };
  if (opts.hostname !== undefined) s.hostname = opts.hostname;
  return s;
}

/**
 * The states under `prefix` by rank. A malformed state is skipped: the rank reads as not started yet, which
 * is what a waiting reader should see of a state nobody could have meant.
 */
function parseStates<S>(
  entries: Map<string, Entry>,
  prefix: string,
  format: RecordFormat<S>,
): Map<number, S> {
  const out = new Map<number, S>();
  for (const [key, e] of entries) {
    const rank = key.slice(prefix.length);
    if (!/^(0|[1-9][0-9]{0,6})$/.test(rank)) continue;
    const s = recordOrUndefined(format, e.value);
    if (s !== undefined) out.set(Number(rank), s);
  }
  return out;
}

/** Root setup on each node: publishes this node's state (and its start-up phases so far) under the job lease. */
export async function putHostState(
  job: JobHandle,
  nodeRank: number,
  state: HostStateName,
  opts: { desc?: string; phases?: PhaseTimes } = {},
) {
  await job.put(`state/hosts/${nodeRank}`, { ...hostState(state, opts.desc), phases: opts.phases });
}

/** Hypervisor: publishes its VM's state under the user lease. */
export async function putVmState(
  job: JobHandle,
  rank: number,
  state: VmStateName,
  opts: { desc?: string; hostname?: string; since?: number; consoleTail?: string; phases?: PhaseTimes } = {},
) {
  const { since, consoleTail, phases, ...rest } = opts;
  await job.putUser(`state/vms/${rank}`, { ...vmState(state, rest), since, consoleTail, phases });
}

export function watchHostStates(
  ks: Keystore,
  jobId: number,
  onChange: (states: Map<number, HostState>) => void,
  onError?: (err: unknown) => void,
): Promise<Following> {
  const prefix = hostStateKey(checkJobId(jobId), 0).slice(0, -1);
  // a watcher of states wants every change: its callback's value must not end the watch
  return ks.follow(
    prefix,
    (entries) => {
      onChange(parseStates(entries, prefix, HOST_STATE));
    },
    onError,
  );
}

export function watchVmStates(
  ks: Keystore,
  user: string,
  jobId: number,
  onChange: (states: Map<number, VmState>) => void,
  onError?: (err: unknown) => void,
): Promise<Following> {
  const prefix = vmStateKey(checkUserName(user), checkJobId(jobId), 0).slice(0, -1);
  // a watcher of states wants every change: its callback's value must not end the watch
  return ks.follow(
    prefix,
    (entries) => {
      onChange(parseStates(entries, prefix, VM_STATE));
    },
    onError,
  );
}
