import { resolve } from "node:path";
import { PcoccError } from "../util/index.js";

/** One pcocc option of a verb whose other options go to salloc/sbatch. */
export interface OptionSpec {
  /** Key in the result, e.g. `allocScript`. */
  key: string;
  short?: string;
  long: string;
  /** Takes a value (every pass-through verb option except flags does). */
  value: boolean;
  /** May be given several times (values accumulate in order). */
  multi?: boolean;
  /** A flag that also takes `--long=VALUE` (never a separate word: that is the batch manager's or the definition). */
  optionalValue?: boolean;
}

export interface SplitArgs {
  options: Record<string, string | string[] | boolean>;
  /** Everything that is not ours, in the order given: handed to salloc/sbatch unchanged. */
  passThrough: string[];
  definition: string;
}

/**
 * Splits `pcocc alloc|batch` arguments the way pcocc (click with ignore_unknown_options) does: our options
 * are recognised anywhere, every unknown argument goes to the batch manager in order, and the last argument
 * is the cluster definition.
 */
export function splitBatchArgs(args: string[], specs: OptionSpec[]): SplitArgs {
  if (args.length === 0) throw new PcoccError("missing cluster definition (e.g. mytemplate:2)");
  const definition = args[args.length - 1]!;
  if (definition.startsWith("-")) {
    throw new PcoccError(`missing cluster definition: the last argument '${definition}' is an option`);
  }
  const options: SplitArgs["options"] = {};
  const passThrough: string[] = [];
  const body = args.slice(0, -1);
  const set = (spec: OptionSpec, value: string | boolean) => {
    if (spec.multi) {
      const prev = options[spec.key];
      options[spec.key] = [...(Array.isArray(prev) ? prev : []), String(value)];
    } else options[spec.key] = value;
  };
  for (let i = 0; i < body.length; i++) {
    const arg = body[i]!;
    if (arg === "--") {
      passThrough.push(...body.slice(i + 1));
      break;
    }
    const match = matchOption(arg, specs);
    if (!match) {
      passThrough.push(arg);
      continue;
    }
    const { spec, inline } = match;
    if (!spec.value) {
      set(spec, inline ?? true);
      continue;
    }
    if (inline !== undefined) {
      set(spec, inline);
      continue;
    }
    const value = body[i + 1];
    if (value === undefined) throw new PcoccError(`option ${arg} needs a value`);
    set(spec, value);
    i++;
  }
  return { options, passThrough, definition };
}

function matchOption(arg: string, specs: OptionSpec[]): { spec: OptionSpec; inline?: string } | undefined {
  if (arg.startsWith("--")) {
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const spec = specs.find((s) => s.long === name);
    if (!spec) return undefined;
    if (eq >= 0 && !spec.value && !spec.optionalValue)
      throw new PcoccError(`option --${name} takes no value`);
    return { spec, inline: eq < 0 ? undefined : arg.slice(eq + 1) };
  }
  if (arg.startsWith("-") && arg.length >= 2) {
    const spec = specs.find((s) => s.short === arg[1]);
    if (!spec) return undefined;
    if (arg.length > 2 && !spec.value) return undefined;
    return { spec, inline: arg.length > 2 ? arg.slice(2) : undefined };
  }
  return undefined;
}

const WAIT_OPTION: OptionSpec = { key: "gate", long: "wait", value: false, optionalValue: true };

export const ALLOC_OPTIONS: OptionSpec[] = [
  { key: "allocScript", short: "E", long: "alloc-script", value: true },
  WAIT_OPTION,
  { key: "restartCkpt", short: "r", long: "restart-ckpt", value: true },
  { key: "userData", long: "user-data", value: true },
  { key: "mount", long: "mount", value: true, multi: true },
  { key: "image", long: "image", value: true, multi: true },
];

export const BATCH_OPTIONS: OptionSpec[] = [
  { key: "hostScript", short: "E", long: "host-script", value: true },
  { key: "batchScript", short: "b", long: "batch-script", value: true },
  WAIT_OPTION,
  { key: "restartCkpt", short: "r", long: "restart-ckpt", value: true },
  { key: "userData", long: "user-data", value: true },
  { key: "mount", long: "mount", value: true, multi: true },
  { key: "image", long: "image", value: true, multi: true },
];

/** Typed view of the pcocc options shared by alloc and batch. */
export interface ClusterLaunchOptions {
  script?: string;
  batchScript?: string;
  userData?: string;
  mounts: string[];
  images: string[];
  /** `-r DIR`: restart from the checkpoint in DIR. */
  restartDir?: string;
  /** `--wait[=all|ROLE]`: whose readiness checks gate the shell/script. */
  gate?: string;
}

export function launchOptions(split: SplitArgs): ClusterLaunchOptions {
  const o = split.options;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const restart = str(o.restartCkpt);
  return {
    script: str(o.allocScript) ?? str(o.hostScript),
    batchScript: str(o.batchScript),
    userData: str(o.userData),
    mounts: Array.isArray(o.mount) ? o.mount : [],
    images: Array.isArray(o.image) ? o.image : [],
    // absolute: the launcher and the hypervisors run elsewhere
    restartDir: restart === undefined ? undefined : resolve(restart),
    gate: gateOption(o.gate),
  };
}

function gateOption(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (v === true) return "all";
  if (typeof v !== "string" || !/^[A-Za-z0-9_.:-]+$/.test(v))
    throw new PcoccError(`invalid --wait=${String(v)}: expected --wait, --wait=all or --wait=TEMPLATE`);
  return v;
}

export interface MountRequest {
  tag: string;
  path: string;
  readonly?: boolean;
  type?: "virtio-9p" | "virtio-fs";
}

const BOOL: Record<string, boolean> = {
  true: true,
  "1": true,
  yes: true,
  false: false,
  "0": false,
  no: false,
};

/** `--mount TAG=PATH[,type=virtio-9p|virtio-fs][,readonly=true|false]` (pcocc's syntax and messages). */
export function parseMountSpec(spec: string): MountRequest {
  const [head, ...opts] = spec.split(",");
  const eq = head!.indexOf("=");
  if (eq < 0) throw new PcoccError(`invalid --mount '${spec}': expected 'tag=path[,opt=val,...]'`);
  const tag = head!.slice(0, eq);
  const path = head!.slice(eq + 1);
  if (!/^[A-Za-z0-9_-]+$/.test(tag)) throw new PcoccError(`invalid --mount '${spec}': bad tag '${tag}'`);
  if (path === "") throw new PcoccError(`invalid --mount '${spec}': empty path`);
  const m: MountRequest = { tag, path };
  for (const opt of opts) {
    const [k, v = ""] = opt.split("=", 2);
    if (k === "type" && (v === "virtio-9p" || v === "virtio-fs")) m.type = v;
    else if (k === "readonly" && v in BOOL) m.readonly = BOOL[v];
    else throw new PcoccError(`invalid --mount '${spec}': unknown --mount option '${opt}'`);
  }
  return m;
}
