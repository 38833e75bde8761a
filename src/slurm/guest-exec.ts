import type { Readable, Writable } from "node:stream";
import { constants } from "node:os";
import type { AgentClient, AgentExec, AttachOptions, ExecResult } from "../agent/index.js";
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
  /**
   * Run in a terminal in the guest (one process): when our stdin is a terminal it is put in raw mode, so
   * keys such as Ctrl-C reach the guest's terminal, and its size follows ours.
   */
  pty?: boolean;
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
  /** Guest CPUs to pin the process to. */
  cpus?: number[];
}

/** Starts one process (exec, or attach to a running one) with its output going to `handlers`. */
type Start = (p: GuestProcess, handlers: AttachOptions) => Promise<AgentExec>;

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
  if (opts.pty && procs.length !== 1) throw ptyForOneProcess(procs.length);
  const size = opts.pty ? terminalSize(opts.stdout) : undefined;
  // a terminal's output is one stream, mostly not whole lines: never prefixed
  return startAndSupervise(procs, opts.pty ? { ...opts, prefix: false } : opts, true, (p, handlers) =>
    p.client.exec({
      argv: opts.argv,
      user: opts.user,
      cwd: opts.cwd,
      env: [...(opts.env ?? []), ...(p.env ?? [])],
      stdin: opts.stdin !== undefined,
      pty: size,
      cpus: p.cpus,
      ...handlers,
    }),
  );
}

/**
 * `pcocc agent attach`: takes over command `execId` in every VM of `clients` (its output from now on, its
 * stdin, Ctrl-C kills it) until it ends. A VM without that command is named; the others are then left
 * running, detached.
 */
export function attachInGuests(
  clients: Map<number, AgentClient>,
  execId: number,
  opts: Omit<GuestExecOptions, "argv">,
): Promise<number> {
  const procs = [...clients].map(([rank, client]) => ({ rank, client, label: `vm${rank}` }));
  return startAndSupervise(procs, { ...opts, argv: [] }, false, (p, handlers) =>
    p.client.attach(execId, handlers),
  );
}

export function ptyForOneProcess(count: number): PcoccError {
  return new PcoccError(`--pty: a terminal is for one process, ${count} would run (choose one VM, or -n 1)`);
}

function terminalSize(out: Writable): { rows: number; cols: number } {
  const tty = out as Partial<NodeJS.WriteStream>;
  return { rows: tty.rows ?? 0, cols: tty.columns ?? 0 };
}

async function startAndSupervise(
  procs: GuestProcess[],
  opts: GuestExecOptions,
  killOnFailure: boolean,
  start: Start,
): Promise<number> {
  const started = await Promise.allSettled(
    procs.map(async (p) => {
      const o: Output = {
        out: outputOf(p.label, opts, opts.stdout),
        err: outputOf(p.label, opts, opts.stderr),
      };
      const e = await start(p, { onStdout: (d) => o.out.write(d), onStderr: (d) => o.err.write(d) });
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
    if (killOnFailure) await Promise.allSettled(running.map(({ e }) => e.kill("SIGKILL")));
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
  const terminal = opts.pty ? rawTerminal(opts, running) : undefined;
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
    terminal?.restore();
    clearTimeout(gaveUp);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    opts.stdin?.off("data", forward).off("end", eof);
    opts.stdin?.pause();
  }
}

/**
 * With --pty on a terminal of ours: raw mode (Ctrl-C, Ctrl-Z... go to the guest's terminal as bytes, its
 * line discipline acts on them), and our window size follows to the guest.
 */
function rawTerminal(opts: GuestExecOptions, running: Array<{ e: AgentExec }>): { restore(): void } {
  const input = opts.stdin as Partial<NodeJS.ReadStream> | undefined;
  const output = opts.stdout as Partial<NodeJS.WriteStream>;
  const raw = input?.isTTY === true && typeof input.setRawMode === "function";
  if (raw) input.setRawMode!(true);
  const onResize = (): void => {
    const { rows, cols } = terminalSize(opts.stdout);
    running.forEach(({ e }) => safely(() => e.resize(rows, cols)));
  };
  output.on?.("resize", onResize);
  return {
    restore: () => {
      output.off?.("resize", onResize);
      if (raw) input.setRawMode!(false);
    },
  };
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
