import { PcoccError } from "../util/index.js";
import type { JobTargetOptions } from "./target.js";

/** ssh options that take no value / take a value (ssh(1)); used to find the destination argument. */
const SSH_FLAGS = new Set("1246AaCfgKkMNnqsTtVvXxYy");
const SSH_VALUED = new Set("BbcDEeFIiJLlmOoPpQRSWw");

/** Options every `pcocc ssh/scp/nc` invocation sends to ssh so throw-away VM host keys are not recorded. */
export const SSH_DEFAULT_OPTIONS = [
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "LogLevel=ERROR",
  "-o",
  "StrictHostKeyChecking=no",
];

export interface RemoteCommandArgs {
  target: JobTargetOptions;
  /** The VM port to reach (ssh/scp: `-p`/`-P`, default 22). */
  port?: number;
  /** The remaining arguments, for ssh/scp/nc. */
  rest: string[];
}

/**
 * Parses pcocc's own options of ssh/scp/nc, which come first: parsing stops at the first argument that is
 * not one of ours (as click's allow_interspersed_args=False does), or after `--`.
 */
export function parseRemoteArgs(args: string[], portFlag: "-p" | "-P" | null): RemoteCommandArgs {
  const target: JobTargetOptions = {};
  let port: number | undefined;
  let i = 0;
  const value = (name: string) => {
    const v = args[i + 1];
    if (v === undefined) throw new PcoccError(`option ${name} needs a value`);
    i += 2;
    return v;
  };
  while (i < args.length) {
    const arg = args[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (arg === "-j" || arg === "--jobid") target.jobId = value(arg);
    else if (arg === "-J" || arg === "--jobname") target.jobName = value(arg);
    else if (arg === "--user") target.user = value(arg);
    else if (portFlag && (arg === portFlag || arg === "--port")) port = parsePort(value(arg));
    else if (/^-j\d+$/.test(arg)) {
      target.jobId = arg.slice(2);
      i++;
    } else break;
  }
  return { target, port, rest: args.slice(i) };
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new PcoccError(`Invalid port number ${value}.`);
  return n;
}

const VM_DEST = /^(?:(.*)@)?vm(\d+)$/;

/** Index and rank of the ssh destination `[user@]vmN`: the first argument that is not an ssh option. */
export function findSshDestination(args: string[]): { index: number; rank: number } {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      i++;
      return destinationAt(args, i);
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // a cluster of flags, possibly ending with one option that takes a value (`-tp22`, `-vi key`)
      for (let k = 1; k < arg.length; k++) {
        const c = arg[k]!;
        if (SSH_VALUED.has(c)) {
          if (k === arg.length - 1) i++;
          break;
        }
        if (!SSH_FLAGS.has(c)) throw new PcoccError(`unknown ssh option -${c} in '${arg}'`);
      }
      continue;
    }
    return destinationAt(args, i);
  }
  throw new PcoccError("Unable to parse vm name: no destination given (e.g. pcocc ssh vm0)");
}

function destinationAt(args: string[], i: number): { index: number; rank: number } {
  const m = VM_DEST.exec(args[i] ?? "");
  if (!m) throw new PcoccError(`Unable to parse vm name '${args[i] ?? ""}' (expected [user@]vmN)`);
  return { index: i, rank: Number(m[2]) };
}

/** `[user@]vmN` → `[user@]host`. */
function replaceVmHost(arg: string, host: string): string {
  return arg.replace(/(^|@)vm\d+$/, `$1${host}`);
}

/** argv of ssh reaching `vmN` through its reverse-NAT port on `host`. */
export function buildSshArgv(rest: string[], host: string, hostPort: number): string[] {
  const { index } = findSshDestination(rest);
  const args = rest.slice();
  args[index] = replaceVmHost(args[index]!, host);
  return ["-p", String(hostPort), ...SSH_DEFAULT_OPTIONS, ...args];
}

const SCP_VM = /^((?:[^@/:]*@)?)vm(\d+):/;

/** The single VM named in scp arguments (`[user@]vmN:path`); scp between two VMs is refused. */
export function findScpVm(args: string[]): number {
  const ranks = new Set<number>();
  for (const a of args) {
    const m = SCP_VM.exec(a);
    if (m) ranks.add(Number(m[2]));
  }
  if (ranks.size === 0) throw new PcoccError("Unable to parse vm name: no [user@]vmN:path argument");
  if (ranks.size > 1) throw new PcoccError("scp between two VMs is not supported: copy through the host");
  return [...ranks][0]!;
}

export function buildScpArgv(rest: string[], host: string, hostPort: number): string[] {
  return [
    "-P",
    String(hostPort),
    ...SSH_DEFAULT_OPTIONS,
    ...rest.map((a) => a.replace(SCP_VM, `$1${host}:`)),
  ];
}

/** Default VM port of `pcocc nc` when none is given (pcocc's). */
const NC_DEFAULT_PORT = 31337;

/** `[nc opts]... vmN [PORT]` → nc options, VM rank and VM port. */
export function parseNcArgs(rest: string[]): { ncOptions: string[]; rank: number; port: number } {
  let idx = -1;
  for (let i = 0; i < rest.length; i++) {
    if (/^vm\d+$/.test(rest[i]!)) idx = i;
  }
  if (idx < 0) throw new PcoccError("Unable to parse vm name: expected vmN [PORT]");
  const after = rest.slice(idx + 1);
  if (after.length > 1)
    throw new PcoccError(`unexpected arguments after the port: ${after.slice(1).join(" ")}`);
  const port = after.length === 1 ? parsePort(after[0]!) : NC_DEFAULT_PORT;
  return { ncOptions: rest.slice(0, idx), rank: Number(rest[idx]!.slice(2)), port };
}
