/**
 * Start-up progress lines. The launcher waits on two phases (hosts configured by the root setup, then every
 * hypervisor running); each line says how far the phase is and names the node or VM holding it back, so a
 * stuck start is diagnosable from the user's terminal.
 */
import { HOST_STATES, VM_STATES } from "../keystore/index.js";

export interface HostProgress {
  node: string;
  /** Absent until the node's setup published anything. */
  state?: string;
  desc?: string;
  /** ms since the epoch when the node entered `state`. */
  since?: number;
}

export interface VmProgress {
  name: string;
  state?: string;
  desc?: string;
  since?: number;
  /** Last console line of the guest, when the hypervisor has one. */
  consoleTail?: string;
}

const HOST_DONE = "complete";
const VM_DONE = "running";

type StateTable = Record<string, { priority: number }>;

/** How far a state is, by the keystore's priorities; `failed` is below everything, unknown is not started. */
function rank(table: StateTable, state: string | undefined): number {
  return state !== undefined && Object.hasOwn(table, state) ? table[state]!.priority : 0;
}

/** The item furthest behind: lowest state, then the one that has been there longest. */
function slowest<T extends { state?: string; since?: number }>(items: T[], table: StateTable): T {
  return items.reduce((a, b) => {
    const ra = rank(table, a.state);
    const rb = rank(table, b.state);
    if (rb !== ra) return rb < ra ? b : a;
    return (b.since ?? Infinity) < (a.since ?? Infinity) ? b : a;
  });
}

function ago(since: number | undefined, now: number): string {
  if (since === undefined) return "";
  const s = Math.max(0, Math.round((now - since) / 1000));
  return ` ${s} s ago`;
}

export function hostProgressLine(hosts: HostProgress[], now = Date.now()): string {
  const done = hosts.filter((h) => h.state === HOST_DONE).length;
  const head = `configuring hosts ${done}/${hosts.length}`;
  if (done === hosts.length || hosts.length === 0) return head;
  const h = slowest(hosts, HOST_STATES);
  const what = h.state === undefined ? "waiting for batch manager" : (h.desc ?? h.state);
  const since = h.state === undefined || h.since === undefined ? "" : ` (since${ago(h.since, now)})`;
  return `${head} — ${h.node}: ${what}${since}`;
}

const VM_WORDS: Record<string, string> = {
  topology: "preparing",
  "temporary-disk": "creating its disk",
  "qemu-start": "qemu started",
};

export function vmProgressLine(vms: VmProgress[], now = Date.now()): string {
  const done = vms.filter((v) => v.state === VM_DONE).length;
  const head = `starting VMs ${done}/${vms.length}`;
  if (done === vms.length || vms.length === 0) return head;
  const v = slowest(vms, VM_STATES);
  let what: string;
  if (v.state === undefined) what = "waiting for its hypervisor task to start";
  else what = `${VM_WORDS[v.state] ?? v.desc ?? v.state}${ago(v.since, now)}`;
  const tail = v.consoleTail ? `, console tail: ${truncate(v.consoleTail, 60)}` : "";
  return `${head} — ${v.name}: ${what}${tail}`;
}

function truncate(s: string, n: number): string {
  const clean = s.replace(/[\x00-\x1f\x7f]/g, " ").trim(); // eslint-disable-line no-control-regex
  return clean.length > n ? `…${clean.slice(clean.length - n)}` : clean;
}

/** Failure of one host or VM, as the one-line reason the user sees. */
export function firstFailure(items: Array<{ state?: string; desc?: string; name?: string; node?: string }>) {
  const f = items.find((i) => i.state === "failed");
  if (!f) return undefined;
  return `${f.node ?? f.name}: ${f.desc ?? "failed"}`;
}
