import { PcoccError } from "../util/index.js";

/**
 * The SLURM environment a step sees, parsed one way for both sides: the user's launcher and tasks, and root's
 * `pcocc internal setup` (which gets it from the SPANK plugin). Every value is hostile until checked: strict
 * formats, bounded sizes and counts, no control characters.
 */

/** Most nodes one job may span: bounds every host list and tasks-per-node expansion. */
export const MAX_NODES = 4096;
/** Most tasks (VMs) on one node; SLURM itself counts them in 16 bits. */
export const MAX_TASKS_PER_NODE = 65535;
/** Longest accepted value of a list variable (host list, tasks per node, resource definition). */
export const MAX_LIST_LENGTH = 65536;
const MAX_UINT32 = 2 ** 32 - 1;
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/i;

/** A variable's value, or undefined when unset/empty; refuses control characters and overlong values. */
export function envValue(
  env: NodeJS.ProcessEnv,
  name: string,
  maxLength = MAX_LIST_LENGTH,
): string | undefined {
  const v = env[name];
  if (v === undefined || v === "") return undefined;
  if (v.length > maxLength)
    throw new PcoccError(`${name}: value too long (${v.length} characters, at most ${maxLength})`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(v)) throw new PcoccError(`${name}: control character in value`);
  return v;
}

export function requireEnv(env: NodeJS.ProcessEnv, name: string, maxLength = MAX_LIST_LENGTH): string {
  const v = envValue(env, name, maxLength);
  if (v === undefined) throw new PcoccError(`${name} is not set`);
  return v;
}

/** Short form of a hostile value for an error line. */
const shown = (v: string): string => (v.length > 60 ? `${v.slice(0, 60)}...` : v);

/** A decimal unsigned 32-bit number without sign or leading zeros. */
export function parseUint32(name: string, value: string, max = MAX_UINT32): number {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(value) || Number(value) > max)
    throw new PcoccError(`${name}: invalid value '${shown(value)}' (expected an integer from 0 to ${max})`);
  return Number(value);
}

export const uint32Env = (env: NodeJS.ProcessEnv, name: string, max = MAX_UINT32): number =>
  parseUint32(name, requireEnv(env, name, 16), max);

export function parseUserName(name: string, value: string): string {
  if (!USER_NAME.test(value)) throw new PcoccError(`${name}: invalid user name '${shown(value)}'`);
  return value;
}

interface ListOptions {
  /** Variable the value came from, named in errors. */
  name?: string;
  /** Refuse lists of more entries than this (the job's node count when known). */
  maxNodes?: number;
}

/**
 * Expands a SLURM host list (`node[1-3,07],gpu1`, `r[1-2]-n[1-2]`) into names, in SLURM's order. Counts
 * every item before expanding it, so a hostile range costs nothing; a name listed twice is refused.
 */
export function expandHostlist(list: string, o: ListOptions = {}): string[] {
  const name = o.name ?? "host list";
  const max = o.maxNodes ?? MAX_NODES;
  const bad = (why: string): PcoccError => new PcoccError(`${name}: ${why} in '${shown(list)}'`);
  if (list.length === 0 || list.length > MAX_LIST_LENGTH) throw bad("invalid length");
  const out: string[] = [];
  for (const item of splitTopLevel(list, bad)) {
    const groups = parseItem(item, bad);
    const count = groups.reduce((n, g) => n * (Array.isArray(g) ? g.length : 1), 1);
    if (out.length + count > max) throw bad(`more than ${max} nodes`);
    out.push(...expandGroups(groups));
  }
  for (const n of out) if (!NODE_NAME.test(n)) throw bad(`invalid node name '${shown(n)}'`);
  if (new Set(out).size !== out.length) throw bad("a node listed twice");
  return out;
}

function splitTopLevel(list: string, bad: (why: string) => PcoccError): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= list.length; i++) {
    const c = list[i];
    if (c === "[") depth++;
    else if (c === "]") depth--;
    if (depth < 0 || depth > 1) throw bad("unbalanced brackets");
    if ((c === "," && depth === 0) || c === undefined) {
      if (i === start) throw bad("empty item");
      items.push(list.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw bad("unbalanced brackets");
  return items;
}

/** An item as literal parts and bracketed number lists (each already expanded, bounded by MAX_NODES). */
function parseItem(item: string, bad: (why: string) => PcoccError): Array<string | string[]> {
  const parts = item.split(/(\[[^\]]*\])/).filter((p) => p !== "");
  return parts.map((p) => {
    if (!p.startsWith("[")) {
      if (!/^[A-Za-z0-9_.-]+$/.test(p)) throw bad(`invalid characters '${shown(p)}'`);
      return p;
    }
    const nums: string[] = [];
    for (const r of p.slice(1, -1).split(",")) {
      const m = /^([0-9]{1,10})(?:-([0-9]{1,10}))?$/.exec(r);
      if (!m) throw bad(`invalid range '${shown(r)}'`);
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (hi < lo || nums.length + hi - lo >= MAX_NODES) throw bad(`invalid range '${r}'`);
      for (let i = lo; i <= hi; i++) nums.push(String(i).padStart(m[1]!.length, "0"));
    }
    return nums;
  });
}

function expandGroups(groups: Array<string | string[]>): string[] {
  let names = [""];
  for (const g of groups) {
    const alts = Array.isArray(g) ? g : [g];
    names = names.flatMap((n) => alts.map((a) => n + a));
  }
  return names;
}

/** `SLURM_TASKS_PER_NODE` syntax (`2(x3),1`) → tasks on each node, in node order. */
export function expandTasksPerNode(value: string, o: ListOptions = {}): number[] {
  const name = o.name ?? "tasks per node";
  const max = o.maxNodes ?? MAX_NODES;
  const out: number[] = [];
  for (const item of value.split(",")) {
    const m = /^([0-9]{1,5})(?:\(x([0-9]{1,5})\))?$/.exec(item);
    if (!m) throw new PcoccError(`${name}: invalid entry '${shown(item)}' in '${shown(value)}'`);
    const tasks = parseUint32(name, m[1]!, MAX_TASKS_PER_NODE);
    const times = m[2] === undefined ? 1 : parseUint32(name, m[2], MAX_NODES);
    if (out.length + times > max)
      throw new PcoccError(`${name}: more than ${max} nodes in '${shown(value)}'`);
    for (let i = 0; i < times; i++) out.push(tasks);
  }
  return out;
}

/** The step's tasks per node, from `SLURM_STEP_TASKS_PER_NODE` or else the allocation's; undefined if neither. */
export function tasksPerNodeFromEnv(env: NodeJS.ProcessEnv, maxNodes?: number): number[] | undefined {
  for (const name of ["SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"]) {
    const v = envValue(env, name);
    if (v !== undefined) return expandTasksPerNode(v, { name, maxNodes });
  }
  return undefined;
}
