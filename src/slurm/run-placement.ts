import { PcoccError } from "../util/index.js";

/**
 * `pcocc run -n N` over the selected VMs: process p goes to VM `vms[p % vms.length]` (round-robin in the
 * order of the VM list), so processes spread before any VM gets a second one (pcocc fills VMs by their
 * core count instead; with -c, pinProcesses checks that each VM has the cores its processes need).
 */
export function placeProcesses(vms: readonly number[], processes: number): number[] {
  if (vms.length === 0) throw new PcoccError("no VM to run in");
  return Array.from({ length: processes }, (_, p) => vms[p % vms.length]!);
}

/**
 * `pcocc run -c C`: the guest CPUs of each placed process. The processes of one VM get consecutive blocks
 * of C CPUs in the order they were placed (taskset-like, pinned by the agent). A VM with fewer CPUs than
 * its processes need is refused, naming it: nothing is oversubscribed silently.
 */
export function pinProcesses(
  placed: readonly number[],
  cores: number,
  cpusOf: (rank: number) => number,
): number[][] {
  const used = new Map<number, number>();
  const pins = placed.map((rank) => {
    const first = used.get(rank) ?? 0;
    used.set(rank, first + cores);
    return Array.from({ length: cores }, (_, i) => first + i);
  });
  for (const [rank, need] of [...used].sort(([a], [b]) => a - b)) {
    const have = cpusOf(rank);
    if (need > have)
      throw new PcoccError(
        `-c ${cores}: vm${rank} has ${have} vCPUs, its ${need / cores} processes need ${need}` +
          ` (fewer processes per VM with -n/-w, or a smaller -c)`,
      );
  }
  return pins;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The environment `pcocc run` gives its commands, as `NAME=VALUE` entries: the caller's whole
 * environment with `--mirror-env`, then each `-e` in order (a later one wins): `VAR=VAL` sets it,
 * `VAR` copies the caller's value (left out if the caller has none), `re(REGEX)` copies every caller
 * variable whose name matches.
 */
export function buildRunEnv(specs: readonly string[], mirror: boolean, caller: NodeJS.ProcessEnv): string[] {
  const env = new Map<string, string>();
  const copy = (name: string): void => {
    const v = caller[name];
    if (v !== undefined) env.set(name, v);
  };
  if (mirror) Object.keys(caller).forEach(copy);
  for (const spec of specs) {
    const re = /^re\((.*)\)$/s.exec(spec);
    if (re) {
      Object.keys(caller).filter(matcher(re[1]!, spec)).forEach(copy);
      continue;
    }
    const eq = spec.indexOf("=");
    const name = eq < 0 ? spec : spec.slice(0, eq);
    if (!NAME.test(name))
      throw new PcoccError(`-e ${spec}: expected VAR, VAR=VALUE or re(REGEX) with a variable name`);
    if (eq < 0) copy(name);
    else env.set(name, spec.slice(eq + 1));
  }
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function matcher(source: string, spec: string): (name: string) => boolean {
  try {
    const re = new RegExp(source);
    return (name) => re.test(name);
  } catch (err) {
    throw new PcoccError(`-e ${spec}: invalid regular expression: ${(err as Error).message}`);
  }
}

/** `-n` / `-c`: a whole number of at least 1. */
export function parseCount(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new PcoccError(`${option} ${value}: expected a whole number of at least 1`);
  return Number(value);
}
