import { PcoccError } from "../util/index.js";

/**
 * Expands a SLURM host list (`node[1-3,05-06],login`) into names, in SLURM's order. Done in-process because
 * `scontrol show hostnames` costs a subprocess on every launcher and console start.
 */
export function expandHostlist(list: string): string[] {
  const out: string[] = [];
  for (const item of splitTopLevel(list)) {
    if (item === "") throw new PcoccError(`invalid SLURM host list: '${list}'`);
    out.push(...expandItem(item, list));
  }
  return out;
}

/** Splits on commas that are not inside brackets. */
function splitTopLevel(list: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === "[") depth++;
    else if (c === "]") depth--;
    else if (c === "," && depth === 0) {
      items.push(list.slice(start, i));
      start = i + 1;
    }
    if (depth < 0 || depth > 1) throw new PcoccError(`invalid SLURM host list: '${list}'`);
  }
  if (depth !== 0) throw new PcoccError(`invalid SLURM host list: '${list}'`);
  items.push(list.slice(start));
  return items;
}

function expandItem(item: string, whole: string): string[] {
  const open = item.indexOf("[");
  if (open < 0) return [item];
  const close = item.indexOf("]", open);
  const prefix = item.slice(0, open);
  const suffixes = expandItem(item.slice(close + 1), whole);
  const names: string[] = [];
  for (const range of item.slice(open + 1, close).split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(range);
    if (!m) throw new PcoccError(`invalid SLURM host list: '${whole}'`);
    const lo = m[1]!;
    const hi = m[2] ?? lo;
    const width = lo.length;
    if (Number(hi) < Number(lo)) throw new PcoccError(`invalid SLURM host list: '${whole}'`);
    for (let n = Number(lo); n <= Number(hi); n++) {
      const num = String(n).padStart(width, "0");
      for (const s of suffixes) names.push(`${prefix}${num}${s}`);
    }
  }
  return names;
}
