import type { PhaseTimes, StartTiming } from "../keystore/index.js";

/** Known phases in the order they happen; a phase a newer part records is shown after them. */
const ORDER = {
  launcher: ["start", "step", "joined", "hosts", "described", "vms"],
  host: ["start", "keystore", "network"],
  vm: [
    "start",
    "spec",
    "overlay",
    "seed",
    "keystore",
    "nics",
    "qemu-spawn",
    "qmp-ready",
    "running",
    "console",
  ],
};

export interface CriticalStep {
  /** `launcher`, `node<rank>` or `vm<rank>`. */
  who: string;
  phase: string;
  /** ms after the origin (the launcher's start). */
  at: number;
}

/** The whole start-up, ready to print or to serialise (`pcocc ps --json`). */
export interface StartBreakdown extends StartTiming {
  /** ms since the epoch that the offsets count from: the launcher's start (≈ allocation granted). */
  origin: number;
  /** The VM that was running last and the node it ran on: what the user waited for. */
  critical?: { vm: number; node?: number; path: CriticalStep[] };
}

const phasesIn = (p: PhaseTimes, order: string[]): string[] => [
  ...order.filter((n) => n in p),
  ...Object.keys(p)
    .filter((n) => !order.includes(n))
    .sort((a, b) => p[a]! - p[b]!),
];

const lastOf = (p: PhaseTimes): number => p.running ?? Math.max(...Object.values(p));

/**
 * The breakdown of `t`. A VM's hypervisor only starts once its own node (`t.vmNodes`) is set up, so that
 * node's setup is on the VM's path.
 */
export function startBreakdown(t: StartTiming): StartBreakdown {
  const all = [t.launcher ?? {}, ...Object.values(t.hosts), ...Object.values(t.vms)].flatMap(Object.values);
  const origin = t.launcher?.start ?? (all.length ? Math.min(...all) : 0);
  const out: StartBreakdown = { ...t, origin };
  const vms = Object.entries(t.vms);
  if (vms.length === 0) return out;
  const [vmKey, vmPhases] = vms.reduce((a, b) => (lastOf(b[1]) > lastOf(a[1]) ? b : a));
  const vm = Number(vmKey);
  const node = t.vmNodes?.[vm];
  const path: CriticalStep[] = [];
  const add = (who: string, p: PhaseTimes | undefined, order: string[], upTo?: string) => {
    if (!p) return;
    // in the order they happened: parts of a process overlap (a VM's disk is made while it connects)
    for (const phase of phasesIn(p, order).sort((a, b) => p[a]! - p[b]!)) {
      path.push({ who, phase, at: p[phase]! - origin });
      if (phase === upTo) break;
    }
  };
  if (t.launcher?.start !== undefined) path.push({ who: "launcher", phase: "start", at: 0 });
  if (node !== undefined) add(`node${node}`, t.hosts[node], ORDER.host);
  add(`vm${vm}`, vmPhases, ORDER.vm, "running");
  if (t.launcher?.vms !== undefined)
    path.push({ who: "launcher", phase: "vms", at: t.launcher.vms - origin });
  out.critical = { vm, node, path };
  return out;
}

function table(title: string, rows: Array<[string, PhaseTimes]>, order: string[], origin: number): string[] {
  const cols = phasesIn(Object.assign({}, ...rows.map((r) => r[1])) as PhaseTimes, order);
  const cells = [
    [title, ...cols],
    ...rows.map(([name, p]) => [
      name,
      ...cols.map((c) => (p[c] === undefined ? "-" : String(p[c] - origin))),
    ]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) =>
    r
      .map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!)))
      .join("  ")
      .trimEnd(),
  );
}

/** The breakdown as text: one table per part (phase × VM, node), offsets in ms, critical rows marked `*`. */
export function formatStartBreakdown(b: StartBreakdown): string {
  const mark = (who: string) => (b.critical?.path.some((s) => s.who === who) ? `* ${who}` : `  ${who}`);
  const ranks = (r: Record<number, PhaseTimes>) =>
    Object.keys(r)
      .map(Number)
      .sort((x, y) => x - y);
  const lines = [`start-up phases, ms after the launcher started (* = on the critical path):`];
  if (b.launcher) lines.push(...table("  launcher", [["", b.launcher]], ORDER.launcher, b.origin));
  const hosts = ranks(b.hosts).map((r): [string, PhaseTimes] => [mark(`node${r}`), b.hosts[r]!]);
  if (hosts.length) lines.push(...table("  node", hosts, ORDER.host, b.origin));
  const vms = ranks(b.vms).map((r): [string, PhaseTimes] => [mark(`vm${r}`), b.vms[r]!]);
  if (vms.length) lines.push(...table("  vm", vms, ORDER.vm, b.origin));
  if (b.critical) {
    let prev = 0;
    const steps = b.critical.path.map((s) => {
      const text = `${s.who} ${s.phase} ${s.at} (+${s.at - prev})`;
      prev = s.at;
      return text;
    });
    lines.push(`critical path: ${steps.join(" -> ")}`);
  }
  return `${lines.join("\n")}\n`;
}
