import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import type { AgentClient } from "../agent/index.js";
import { PcoccError } from "../util/index.js";
import { reachAgents, requireAgents, type ReachedAgents } from "./agent-reach.js";
import { execInGuests } from "./guest-exec.js";
import type { JobTargetOptions } from "./target.js";

/** pcocc's agent timeout (s): how long a VM's agent gets to answer before it is named as unreachable. */
export const DEFAULT_AGENT_TIMEOUT_S = 60;

/** `-i`: `all`, or VM indices as a range set (`0-3,5`). */
export function parseIndices(spec: string): number[] | "all" {
  if (spec === "all") return "all";
  const ranks = new Set<number>();
  for (const part of spec.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const a = Number(m?.[1]);
    const b = m?.[2] === undefined ? a : Number(m[2]);
    if (!m || b < a || b - a > 100_000)
      throw new PcoccError(`-i ${spec}: expected 'all' or VM indices such as 0-3,5`);
    for (let r = a; r <= b; r++) ranks.add(r);
  }
  return [...ranks].sort((x, y) => x - y);
}

/** `-t`: seconds, at least 1. */
export function parseTimeout(value: string | undefined): number {
  if (value === undefined) return DEFAULT_AGENT_TIMEOUT_S * 1000;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new PcoccError(`-t ${value}: expected a timeout in seconds`);
  return Number(value) * 1000;
}

export interface AgentTargetOptions extends JobTargetOptions {
  indices: number[] | "all";
  timeoutMs: number;
}

/** Reaches the agents of the targeted VMs, runs `fn` with them, and always closes them. */
export async function withAgents<T>(
  o: AgentTargetOptions,
  fn: (reached: ReachedAgents) => Promise<T>,
): Promise<T> {
  const reached = await reachAgents(o, o.indices, { timeoutMs: o.timeoutMs });
  try {
    return await fn(reached);
  } finally {
    await reached.close();
  }
}

export interface GuestCommandOptions extends AgentTargetOptions {
  argv: string[];
  /** `-s`: a local script, copied into every VM and run there. */
  script?: string;
  /** The user in the guest (not the job's owner: JobTargetOptions.user). */
  guestUser?: string;
  cwd?: string;
  env?: string[];
  /** `--no-prefix` gives false; default: prefix when several VMs run. */
  prefix?: boolean;
  /** `--pty`: in a terminal in the guest (one VM). */
  pty?: boolean;
}

/** A script read before any VM is asked, and how it runs once copied (`#!` decides, else /bin/sh). */
async function loadScript(path: string) {
  const content = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new PcoccError(`-s: cannot read script ${path}: ${err.code ?? err.message}`);
  });
  const dest = `/tmp/pcocc-script-${randomBytes(6).toString("hex")}-${basename(path).replace(/[^\w.-]/g, "_")}`;
  const argv = content.subarray(0, 2).toString() === "#!" ? [dest] : ["/bin/sh", dest];
  // written by the agent as root, run as -u USER: readable by all (the guest is the job user's own)
  return { content, dest, argv, mode: 0o755 };
}

/**
 * `pcocc exec` / `pcocc agent run`: runs a command (or a copied script) in the targeted VMs at once, with
 * our stdin forwarded; resolves with the highest exit status.
 */
export async function runInGuests(o: GuestCommandOptions): Promise<number> {
  const script = o.script !== undefined ? await loadScript(o.script) : undefined;
  if (!script && o.argv.length === 0) throw new PcoccError("nothing to run: give a command or -s SCRIPT");
  return withAgents(o, async (reached) => {
    const clients = requireAgents(reached);
    if (script)
      await Promise.all(
        [...clients.values()].map((c) => c.writeFile(script.dest, script.content, script.mode)),
      );
    try {
      return await execInGuests(clients, {
        argv: script ? [...script.argv, ...o.argv] : o.argv,
        user: o.guestUser,
        cwd: o.cwd,
        env: o.env,
        prefix: o.prefix ?? clients.size > 1,
        pty: o.pty,
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
      });
    } finally {
      if (script) await removeEverywhere(clients, script.dest);
    }
  });
}

async function removeEverywhere(clients: Map<number, AgentClient>, path: string): Promise<void> {
  await Promise.allSettled(
    [...clients.values()].map(async (c) => (await c.exec({ argv: ["rm", "-f", "--", path] })).result),
  );
}
