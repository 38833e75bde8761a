import { EventEmitter } from "node:events";
import net from "node:net";
import { JsonValueSplitter, PcoccError } from "../util/index.js";

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpGreeting {
  version: { qemu: { major: number; minor: number; micro: number }; package?: string };
  capabilities: string[];
}

/** A command QEMU refused; `errorClass`/`desc` are QMP's own error fields. */
export class QmpError extends PcoccError {
  readonly errorClass: string;
  readonly desc: string;
  readonly command: string;

  constructor(command: string, errorClass: string, desc: string) {
    super(`Qemu monitor command failed: ${command}: ${desc}`);
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

export class QmpDisconnectedError extends PcoccError {
  constructor(detail?: string) {
    super(`Qemu monitor disconnected${detail ? `: ${detail}` : ""}`);
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

export interface QmpConnectOptions {
  /** How long to keep retrying while the socket does not exist or refuses connections. */
  timeoutMs?: number;
  /** Gives up early, e.g. when the QEMU process already exited. */
  signal?: AbortSignal;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

/**
 * QMP over a unix socket: greeting, capabilities negotiation, commands matched to replies by id, and
 * asynchronous events re-emitted as `event` (every event) and `event:<NAME>`.
 */
export class QmpClient extends EventEmitter {
  readonly greeting: QmpGreeting;
  private readonly sock: net.Socket;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private closedError: Error | undefined;

  private constructor(sock: net.Socket, greeting: QmpGreeting) {
    super();
    this.sock = sock;
    this.greeting = greeting;
  }

  /** Connects, reads the greeting and leaves negotiation mode (`qmp_capabilities`). */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      opts.signal?.throwIfAborted();
      try {
        const client = await QmpClient.open(path, Math.max(1000, deadline - Date.now()));
        await client.execute("qmp_capabilities");
        return client;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code === "ENOENT" || code === "ECONNREFUSED") && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        if (code === "ENOENT" || code === "ECONNREFUSED")
          throw new PcoccError(`unable to connect to the Qemu monitor at ${path}`, { cause: err });
        throw err;
      }
    }
  }

  private static open(path: string, timeoutMs: number): Promise<QmpClient> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(path);
      const splitter = new JsonValueSplitter();
      let client: QmpClient | undefined;
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new PcoccError(`no greeting from the Qemu monitor at ${path}`));
      }, timeoutMs);
      sock.setEncoding("utf8");
      sock.on("data", (chunk: string) => {
        let values: unknown[];
        try {
          values = splitter.push(chunk);
        } catch (err) {
          sock.destroy(err as Error);
          return;
        }
        for (const value of values) {
          const msg = value as Record<string, unknown>;
          if (!client) {
            clearTimeout(timer);
            if (!("QMP" in msg)) {
              sock.destroy();
              const text = JSON.stringify(value).slice(0, 200);
              reject(new PcoccError(`unexpected greeting from the Qemu monitor: ${text}`));
              return;
            }
            client = new QmpClient(sock, msg.QMP as QmpGreeting);
            resolve(client);
          } else {
            client.dispatch(msg);
          }
        }
      });
      sock.on("error", (err) => {
        clearTimeout(timer);
        if (client) client.fail(new QmpDisconnectedError(err.message));
        else reject(err);
      });
      sock.on("close", () => {
        clearTimeout(timer);
        if (client) client.fail(new QmpDisconnectedError());
        else reject(new QmpDisconnectedError("closed before greeting"));
      });
    });
  }

  private dispatch(msg: Record<string, unknown>): void {
    if (typeof msg.event === "string") {
      const ev = msg as unknown as QmpEvent;
      this.emit("event", ev);
      this.emit(`event:${ev.event}`, ev);
      return;
    }
    const id = msg.id === undefined ? undefined : String(msg.id);
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || id === undefined) return;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if ("error" in msg) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, e.class ?? "GenericError", e.desc ?? "unknown error"));
    } else {
      p.resolve(msg.return);
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.emit("close", err);
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    opts: { timeoutMs?: number } = {},
  ): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { command, resolve: resolve as (v: unknown) => void, reject };
      const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
      if (timeoutMs > 0)
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new PcoccError(`Qemu monitor command ${command} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      this.pending.set(id, p);
      const msg = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.sock.write(JSON.stringify(msg));
    });
  }

  /** Resolves with the first event named `name` (or one of `name`) for which `match` holds. */
  waitEvent(
    name: string | string[],
    match: (ev: QmpEvent) => boolean = () => true,
    timeoutMs = 0,
  ): Promise<QmpEvent> {
    const names = new Set(typeof name === "string" ? [name] : name);
    return new Promise((resolve, reject) => {
      const onEvent = (ev: QmpEvent): void => {
        if (!names.has(ev.event) || !match(ev)) return;
        cleanup();
        resolve(ev);
      };
      const onClose = (err: Error): void => {
        cleanup();
        reject(err);
      };
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              cleanup();
              reject(new PcoccError(`timed out waiting for Qemu event ${[...names].join("/")}`));
            }, timeoutMs)
          : undefined;
      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        this.off("event", onEvent);
        this.off("close", onClose);
      };
      if (this.closedError) return reject(this.closedError);
      this.on("event", onEvent);
      this.on("close", onClose);
    });
  }

  /**
   * Every event from now until the connection closes. Listening starts at this call (not at the first
   * `next()`), so events that arrive in between are kept.
   */
  events(): AsyncIterableIterator<QmpEvent> {
    const queue: QmpEvent[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const onEvent = (ev: QmpEvent): void => {
      queue.push(ev);
      wake?.();
    };
    const onClose = (): void => wake?.();
    const stop = (): void => {
      done = true;
      this.off("event", onEvent);
      this.off("close", onClose);
    };
    this.on("event", onEvent);
    this.on("close", onClose);
    const iterator: AsyncIterableIterator<QmpEvent> = {
      next: async () => {
        for (;;) {
          const ev = queue.shift();
          if (ev) return { value: ev, done: false };
          if (done || this.closedError) {
            stop();
            return { value: undefined, done: true };
          }
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      },
      return: async () => {
        stop();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
    this.fail(new QmpDisconnectedError("closed by client"));
  }
}
