import type { Readable, Writable } from "node:stream";
import { constants } from "node:os";
import type { AgentClient, AgentExec, ExecResult } from "../agent/index.js";
import { PcoccError } from "../util/index.js";
import { groupedMessage } from "./agent-reach.js";
import { LinePrefixer } from "./line-prefix.js";

export interface GuestExecOptions {
  argv: string[];
  user?: string;
  cwd?: string;
  env?: string[];
  /** Prefix each line with its VM (default: when more than one VM runs the command). */
  prefix: boolean;
  /** Forwarded to every command; none: the commands read /dev/null. */
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** How long the killed commands get to report their end after a Ctrl-C before we stop waiting. */
const KILL_WAIT_MS = 10_000;

function outputOf(label: string, opts: GuestExecOptions, out: Writable) {
  if (!opts.prefix) return { write: (d: Buffer) => out.write(d), flush: () => undefined };
  return new LinePrefixer(`${label}: `, out);
}

/** One command to run: in VM `rank`, through its agent, its output prefixed with `label`. */
export interface GuestProcess {
  rank: number;
  client: AgentClient;
  label: string;
  /** On top of the options' env. */
  env?: string[];
}

interface Output {
  out: { write(d: Buffer): void; flush(): void };
  err: { write(d: Buffer): void; flush(): void };
}

/**
 * Runs one command in every VM of `clients` at once (`pcocc exec`), each output line prefixed with its VM.
 */
export function execInGuests(clients: Map<number, AgentClient>, opts: GuestExecOptions): Promise<number> {
  return execProcesses(
    [...clients].map(([rank, client]) => ({ rank, client, label: `vm${rank}` })),
    opts,
  );
}

/**
 * Runs every process of `procs` at once (several may share a VM), streaming its output as it comes.
 * Resolves with the highest exit status (128 + N for a command killed by signal N; 130 after a Ctrl-C,
 * which kills every command first). A command that cannot start in some VM (unknown user, command not
 * found) fails the whole run with one line naming those VMs, and the ones that started are killed.
 */
export async function execProcesses(procs: GuestProcess[], opts: GuestExecOptions): Promise<number> {
  const started = await Promise.allSettled(
    procs.map(async (p) => {
      const o: Output = {
        out: outputOf(p.label, opts, opts.stdout),
        err: outputOf(p.label, opts, opts.stderr),
      };
      const e = await p.client.exec({
        argv: opts.argv,
        user: opts.user,
        cwd: opts.cwd,
        env: [...(opts.env ?? []), ...(p.env ?? [])],
        stdin: opts.stdin !== undefined,
        onStdout: (d) => o.out.write(d),
        onStderr: (d) => o.err.write(d),
      });
      return { e, o };
    }),
  );
  const running = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = new Map<string, number[]>();
  started.forEach((s, i) => {
    if (s.status === "fulfilled") return;
    const rank = procs[i]!.rank;
    const why = (s.reason as Error).message.replace(new RegExp(`^vm${rank}: `), "");
    const ranks = failed.get(why) ?? [];
    if (!ranks.includes(rank)) failed.set(why, [...ranks, rank]);
  });
  if (failed.size > 0) {
    await Promise.allSettled(running.map(({ e }) => e.kill("SIGKILL")));
    throw new PcoccError(groupedMessage(failed));
  }
  return superviseExecs(running, opts);
}

async function superviseExecs(
  running: Array<{ e: AgentExec; o: Output }>,
  opts: GuestExecOptions,
): Promise<number> {
  let interrupted = false;
  let gaveUp: NodeJS.Timeout | undefined;
  let onSignal!: () => void;
  // after a Ctrl-C, a command whose end never comes (its VM hangs) is counted as killed
  const killed = new Promise<ExecResult>((resolve) => {
    onSignal = (): void => {
      if (interrupted) return;
      interrupted = true;
      for (const { e } of running) e.kill("SIGKILL").catch(() => undefined);
      gaveUp = setTimeout(() => resolve({ signal: constants.signals.SIGKILL }), KILL_WAIT_MS);
    };
  });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const forward = (d: Buffer): void => running.forEach(({ e }) => safely(() => e.write(d)));
  const eof = (): void => running.forEach(({ e }) => safely(() => e.end()));
  opts.stdin?.on("data", forward).on("end", eof);
  try {
    const results = await Promise.all(
      running.map(async ({ e, o }) => {
        const r = await Promise.race([e.result, killed]);
        o.out.flush();
        o.err.flush();
        return r;
      }),
    );
    if (interrupted) return 130;
    return Math.max(0, ...results.map(statusOf));
  } finally {
    clearTimeout(gaveUp);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    opts.stdin?.off("data", forward).off("end", eof);
    opts.stdin?.pause();
  }
}

function statusOf(r: ExecResult): number {
  return r.signal !== undefined ? 128 + r.signal : r.code;
}

/** Writing to a command that already ended (its agent connection may be gone too) is not an error. */
function safely(f: () => void): void {
  try {
    f();
  } catch {
    // the command's end is reported through its result
  }
}
