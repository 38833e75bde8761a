import { PcoccError } from "../util/index.js";

/**
 * `pcocc run -n N` over the selected VMs: process p goes to VM `vms[p % vms.length]` (round-robin in the
 * order of the VM list), so processes spread before any VM gets a second one. pcocc places by each VM's
 * core count; our agent does not report one, so every VM counts the same.
 */
export function placeProcesses(vms: readonly number[], processes: number): number[] {
  if (vms.length === 0) throw new PcoccError("no VM to run in");
  return Array.from({ length: processes }, (_, p) => vms[p % vms.length]!);
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
