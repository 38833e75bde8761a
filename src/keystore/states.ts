import type { Entry, Following, Keystore } from "./client.js";
import type { JobHandle } from "./jobs.js";
import { checkJobId, checkUserName, hostStateKey, vmStateKey } from "./layout.js";

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

export interface HostState {
  state: HostStateName;
  priority: number;
  desc: string;
}

export interface VmState {
  state: VmStateName;
  priority: number;
  desc: string;
  hostname?: string;
}

function hostState(state: HostStateName, desc?: string): HostState {
  return { state, priority: HOST_STATES[state].priority, desc: desc ?? HOST_STATES[state].desc };
}

export function vmState(state: VmStateName, opts: { desc?: string; hostname?: string } = {}): VmState {
  const s: VmState = { state, priority: VM_STATES[state].priority, desc: opts.desc ?? VM_STATES[state].desc };
  if (opts.hostname !== undefined) s.hostname = opts.hostname;
  return s;
}

/** etcd contents are untrusted: anything that is not a well-formed state is dropped. */
function parseStates<N extends string, S extends { state: N; priority: number; desc: string }>(
  entries: Map<string, Entry>,
  prefix: string,
  table: Record<N, { priority: number }>,
): Map<number, S> {
  const out = new Map<number, S>();
  for (const [key, e] of entries) {
    const rank = key.slice(prefix.length);
    if (!/^(0|[1-9][0-9]{0,6})$/.test(rank)) continue;
    const v = e.value as Partial<S> | undefined;
    if (!v || typeof v !== "object" || typeof v.state !== "string" || !Object.hasOwn(table, v.state))
      continue;
    const desc = typeof v.desc === "string" ? v.desc.slice(0, 1000) : "";
    const s = { ...v, state: v.state, priority: table[v.state as N].priority, desc } as S;
    out.set(Number(rank), s);
  }
  return out;
}

/** Root setup on each node: publishes this node's state under the job lease. */
export async function putHostState(job: JobHandle, nodeRank: number, state: HostStateName, desc?: string) {
  await job.put(`state/hosts/${nodeRank}`, hostState(state, desc));
}

/** Hypervisor: publishes its VM's state under the user lease. */
export async function putVmState(
  job: JobHandle,
  rank: number,
  state: VmStateName,
  opts: { desc?: string; hostname?: string } = {},
) {
  await job.putUser(`state/vms/${rank}`, vmState(state, opts));
}

export function watchHostStates(
  ks: Keystore,
  jobId: number,
  onChange: (states: Map<number, HostState>) => void,
  onError?: (err: unknown) => void,
): Promise<Following> {
  const prefix = hostStateKey(checkJobId(jobId), 0).slice(0, -1);
  return ks.follow(prefix, (entries) => onChange(parseStates(entries, prefix, HOST_STATES)), onError);
}

export function watchVmStates(
  ks: Keystore,
  user: string,
  jobId: number,
  onChange: (states: Map<number, VmState>) => void,
  onError?: (err: unknown) => void,
): Promise<Following> {
  const prefix = vmStateKey(checkUserName(user), checkJobId(jobId), 0).slice(0, -1);
  return ks.follow(prefix, (entries) => onChange(parseStates(entries, prefix, VM_STATES)), onError);
}
