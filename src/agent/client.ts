import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { constants } from "node:os";
import { PcoccError } from "../util/index.js";
import {
  CHUNK,
  CLIENT_ID_MAX,
  FrameDecoder,
  decodeGuest,
  encodeHost,
  type ExecEntry,
  type GuestMessage,
  type HostMessage,
} from "./protocol.js";

export class AgentError extends PcoccError {}
/** The agent did not answer in time; the message names the VM. */
export class AgentTimeoutError extends AgentError {}

export interface PingResult {
  version: string;
  hostname: string;
  /** The guest's online CPUs. */
  cpus: number;
}

export interface ExecOptions {
  argv: string[];
  /** `NAME=VALUE` entries on top of the agent's PATH, HOME, USER, LOGNAME. */
  env?: string[];
  user?: string;
  cwd?: string;
  /** Keep stdin open for `write`/`end`; otherwise the command reads /dev/null. */
  stdin?: boolean;
  /** Run in a new terminal of this size in the guest (stdout and stderr are the terminal: onStdout). */
  pty?: { rows: number; cols: number };
  /** Pin the command to these guest CPUs (sched_setaffinity). */
  cpus?: number[];
  onStdout?: (data: Buffer) => void;
  onStderr?: (data: Buffer) => void;
}

/** How the command ended: an exit code, or the signal that killed it. */
export type ExecResult = { code: number; signal?: undefined } | { code?: undefined; signal: number };

export interface AgentExec {
  id: number;
  pid: number;
  write(data: Buffer | string): void;
  end(): void;
  /** Signals the command's process group. */
  kill(signal?: NodeJS.Signals | number): Promise<void>;
  /** The terminal's new size (a pty command). */
  resize(rows: number, cols: number): void;
  result: Promise<ExecResult>;
}

/** What `attach` needs: where the command's output goes. */
export type AttachOptions = Pick<ExecOptions, "onStdout" | "onStderr">;

interface Waiter {
  resolve: (m: GuestMessage) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface Running {
  opts: AttachOptions;
  resolve: (r: ExecResult) => void;
  reject: (e: Error) => void;
}

/**
 * One connection to a VM's agent: its socket (the QEMU chardev of the virtio-serial port), or a stream
 * relayed to it from the VM's node.
 */
export class AgentClient {
  private readonly waiters = new Map<number, Waiter>();
  private readonly running = new Map<number, Running>();
  private readonly decoder = new FrameDecoder();
  private nextId = 1;
  private closed?: Error;

  constructor(
    private readonly socket: Duplex,
    /** Named in every error. */
    readonly vm: string,
    private readonly timeoutMs: number,
    private readonly onHello: (m: PingResult) => void,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => this.fail(new AgentError(`${vm}: the guest agent connection closed`)));
    socket.on("error", (err) => this.fail(new AgentError(`${vm}: guest agent socket: ${err.message}`)));
  }

  private onData(chunk: Buffer): void {
    try {
      for (const frame of this.decoder.push(chunk)) this.dispatch(decodeGuest(frame));
    } catch (err) {
      this.fail(new AgentError(`${this.vm}: bad frame from the guest agent: ${(err as Error).message}`));
      this.socket.destroy();
    }
  }

  private dispatch(m: GuestMessage): void {
    if (m.type === "pong" && m.id === 0) {
      // a second hello means the agent restarted: what it was doing for us is gone
      this.failRequests(new AgentError(`${this.vm}: the guest agent restarted`));
      this.onHello(m);
      return;
    }
    const run = this.running.get(m.id);
    if (run && m.type === "output") (m.stream === 1 ? run.opts.onStdout : run.opts.onStderr)?.(m.data);
    if (run && m.type === "exited") {
      this.running.delete(m.id);
      run.resolve(m.signal !== undefined ? { signal: m.signal } : { code: m.code ?? 0 });
    }
    if (run && m.type === "detached") {
      this.running.delete(m.id);
      run.reject(new AgentError(`${this.vm}: another client attached to the command`));
    }
    const waiter = this.waiters.get(m.id);
    if (waiter && m.type !== "output" && m.type !== "exited" && m.type !== "detached") {
      this.waiters.delete(m.id);
      clearTimeout(waiter.timer);
      if (m.type === "error") waiter.reject(new AgentError(`${this.vm}: ${m.message}`));
      else waiter.resolve(m);
    }
  }

  private failRequests(err: Error): void {
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
    for (const r of this.running.values()) r.reject(err);
    this.running.clear();
  }

  private fail(err: Error): void {
    this.closed ??= err;
    this.failRequests(err);
  }

  private id(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= CLIENT_ID_MAX ? 1 : this.nextId + 1;
    return id;
  }

  private send(m: HostMessage): void {
    if (this.closed) throw this.closed;
    this.socket.write(encodeHost(m));
  }

  /** Sends the first of `messages` (all with one id) and waits for the reply to that id. */
  private request(what: string, messages: HostMessage[]): Promise<GuestMessage> {
    if (this.closed) return Promise.reject(this.closed);
    const id = messages[0]!.id;
    const reply = new Promise<GuestMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(
          new AgentTimeoutError(
            `${this.vm}: the guest agent did not answer ${what} within ${this.timeoutMs / 1000}s`,
          ),
        );
      }, this.timeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
    });
    for (const m of messages) this.send(m);
    return reply;
  }

  async ping(): Promise<PingResult> {
    const m = await this.request("ping", [{ type: "ping", id: this.id() }]);
    if (m.type !== "pong") throw new AgentError(`${this.vm}: unexpected ${m.type} reply to ping`);
    return { version: m.version, hostname: m.hostname, cpus: m.cpus };
  }

  async exec(opts: ExecOptions): Promise<AgentExec> {
    return this.startCommand(opts, `exec ${opts.argv[0] ?? ""}`, (id) => ({
      type: "exec",
      id,
      argv: opts.argv,
      env: opts.env ?? [],
      user: opts.user ?? "",
      cwd: opts.cwd ?? "",
      stdin: opts.stdin ?? false,
      pty: opts.pty,
      cpus: opts.cpus,
    }));
  }

  /**
   * Takes over a command the agent is running (`execId` from listExec): its output, exit, stdin and
   * signals come and go through this client from now on; a client that held it before is told so.
   */
  async attach(execId: number, opts: AttachOptions): Promise<AgentExec> {
    return this.startCommand(opts, `attach ${execId}`, (id) => ({ type: "attach", id, execId }));
  }

  private async startCommand(
    opts: AttachOptions,
    what: string,
    request: (id: number) => HostMessage,
  ): Promise<AgentExec> {
    const id = this.id();
    let resolve!: (r: ExecResult) => void;
    let reject!: (e: Error) => void;
    const result = new Promise<ExecResult>((res, rej) => ((resolve = res), (reject = rej)));
    result.catch(() => undefined); // a caller that never awaits the result must not crash the process
    this.running.set(id, { opts, resolve, reject });
    const started = await this.request(what, [request(id)]).catch((err: Error) => {
      this.running.delete(id);
      throw err;
    });
    return {
      id,
      pid: started.type === "ok" ? (started.value ?? 0) : 0,
      result,
      write: (data) => {
        const b = typeof data === "string" ? Buffer.from(data) : data;
        for (let off = 0; off < b.length; off += CHUNK)
          this.send({ type: "stdin", id, data: b.subarray(off, off + CHUNK) });
      },
      end: () => this.send({ type: "stdin", id, data: Buffer.alloc(0) }),
      kill: async (signal = "SIGTERM") => {
        const signo = typeof signal === "number" ? signal : constants.signals[signal];
        await this.request(`signal ${signal}`, [{ type: "signal", id, signal: signo }]);
      },
      resize: (rows, cols) => this.send({ type: "resize", id, rows, cols }),
    };
  }

  async writeFile(path: string, content: Buffer, mode = 0o644): Promise<void> {
    const id = this.id();
    const chunks: HostMessage[] = [{ type: "file-open", id, path, mode }];
    for (let off = 0; off < content.length; off += CHUNK)
      chunks.push({ type: "file-data", id, data: content.subarray(off, off + CHUNK) });
    chunks.push({ type: "file-close", id });
    await this.request(`writefile ${path}`, chunks).catch((err: Error) => {
      // given up on (timeout): the guest removes the file it was writing, the target stays as it was
      if (err instanceof AgentTimeoutError && !this.closed) this.send({ type: "abort", id });
      throw err;
    });
  }

  /** Freezes the guest's file systems; the agent thaws them by itself after `timeoutS`. Returns the count. */
  async freeze(timeoutS = 60): Promise<number> {
    const m = await this.request("freeze", [{ type: "freeze", id: this.id(), timeoutS }]);
    return m.type === "ok" ? (m.value ?? 0) : 0;
  }

  async thaw(): Promise<number> {
    const m = await this.request("thaw", [{ type: "thaw", id: this.id() }]);
    return m.type === "ok" ? (m.value ?? 0) : 0;
  }

  async listExec(): Promise<ExecEntry[]> {
    const m = await this.request("listexec", [{ type: "listexec", id: this.id() }]);
    if (m.type !== "execs") throw new AgentError(`${this.vm}: unexpected ${m.type} reply to listexec`);
    return m.execs;
  }

  close(): void {
    this.fail(new AgentError(`${this.vm}: the guest agent connection was closed`));
    this.socket.destroy();
  }
}

/**
 * Connects to a VM's agent socket and waits until the agent answers (see `agentHandshake`). Errors and the
 * timeout name the VM.
 */
export function connectAgent(
  socketPath: string,
  opts: { vm: string; timeoutMs?: number; helloTimeoutMs?: number },
): Promise<{ client: AgentClient; hello: PingResult }> {
  const socket = connect(socketPath);
  return agentHandshake(socket, "connect", { ...opts, where: ` at ${socketPath}` });
}

/**
 * Waits until the agent at the end of `stream` answers: its hello (sent when the guest opens the port;
 * what was written before that is discarded by the guest kernel) or the reply to a ping sent as soon as
 * `stream` emits `readyEvent` (an agent already serving the port).
 */
export function agentHandshake(
  stream: Duplex,
  readyEvent: string,
  opts: { vm: string; timeoutMs?: number; helloTimeoutMs?: number; where?: string },
): Promise<{ client: AgentClient; hello: PingResult }> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const helloMs = opts.helloTimeoutMs ?? timeoutMs;
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | undefined, hello?: PingResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.off("error", early);
      if (err) {
        stream.destroy();
        reject(err);
      } else resolve({ client, hello: hello! });
    };
    const timer = setTimeout(
      () => finish(new AgentTimeoutError(`${opts.vm}: no guest agent answered within ${helloMs / 1000}s`)),
      helloMs,
    );
    const early = (err: Error): void =>
      finish(new AgentError(`${opts.vm}: cannot reach the guest agent${opts.where ?? ""}: ${err.message}`));
    stream.once("error", early);
    const client = new AgentClient(stream, opts.vm, timeoutMs, (hello) => finish(undefined, hello));
    stream.once(readyEvent, () => {
      client.ping().then(
        (hello) => finish(undefined, hello),
        () => undefined, // lost in a closed port, or superseded by the hello
      );
    });
  });
}
