import { connect, type Socket } from "node:net";
import { JsonValueSplitter, PcoccError } from "../util/index.js";

export const DEFAULT_OVSDB_SOCKET = "/run/openvswitch/db.sock";

/** An OVSDB operation (RFC 7047 §5.2) as sent on the wire. */
export type OvsdbOp = Record<string, unknown> & { op: string };
export type OvsdbResult = Record<string, unknown> & { error?: string; details?: string };

export class OvsdbError extends PcoccError {}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * RFC 7047 JSON-RPC client over a unix socket. Answers the server's `echo` requests (its keepalive) and
 * checks every operation of a transaction: a transaction that fails is rolled back by the server, and the
 * failing operation is named in the error.
 */
export class OvsdbClient {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed: Error | undefined;

  private constructor(
    private readonly sock: Socket,
    readonly path: string,
    private readonly timeoutMs: number,
  ) {
    const splitter = new JsonValueSplitter();
    sock.on("data", (chunk: Buffer) => {
      let msgs: unknown[];
      try {
        msgs = splitter.push(chunk);
      } catch (err) {
        this.fail(new OvsdbError(`OVSDB ${path}: ${(err as Error).message}`));
        return;
      }
      for (const m of msgs) this.dispatch(m as Record<string, unknown>);
    });
    sock.on("error", (err) => this.fail(new OvsdbError(`OVSDB ${path}: ${err.message}`)));
    sock.on("close", () => this.fail(new OvsdbError(`OVSDB ${path}: connection closed`)));
  }

  static open(path = DEFAULT_OVSDB_SOCKET, opts: { timeoutMs?: number } = {}): Promise<OvsdbClient> {
    return new Promise((resolve, reject) => {
      const sock = connect(path);
      const onError = (err: Error): void =>
        reject(new OvsdbError(`cannot connect to Open vSwitch database at ${path}: ${err.message}`));
      sock.once("error", onError);
      sock.once("connect", () => {
        sock.off("error", onError);
        resolve(new OvsdbClient(sock, path, opts.timeoutMs ?? 10_000));
      });
    });
  }

  close(): void {
    this.closed ??= new OvsdbError(`OVSDB ${this.path}: client closed`);
    this.sock.destroy();
  }

  request(method: string, params: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new OvsdbError(`OVSDB ${this.path}: no answer to ${method} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.sock.write(JSON.stringify({ method, params, id }));
    });
  }

  echo(): Promise<unknown> {
    return this.request("echo", ["pcocc"]);
  }

  /** Runs `ops` atomically in `db`; throws naming the first failed operation. */
  async transact(ops: OvsdbOp[], db = "Open_vSwitch"): Promise<OvsdbResult[]> {
    const results = (await this.request("transact", [db, ...ops])) as Array<OvsdbResult | null>;
    if (!Array.isArray(results)) throw new OvsdbError("OVSDB: malformed transact reply");
    results.forEach((r, i) => {
      if (r?.error) {
        const what = i < ops.length ? `${ops[i]!.op} on ${String(ops[i]!.table ?? "?")}` : "commit";
        throw new OvsdbError(
          `OVSDB transaction failed at ${what}: ${r.error}${r.details ? ` (${r.details})` : ""}`,
        );
      }
    });
    if (results.length < ops.length) throw new OvsdbError("OVSDB: transaction reply is missing results");
    return results as OvsdbResult[];
  }

  private dispatch(msg: Record<string, unknown>): void {
    if (msg.method === "echo" && msg.id !== undefined && msg.id !== null) {
      this.sock.write(JSON.stringify({ result: msg.params, error: null, id: msg.id }));
      return;
    }
    if (typeof msg.id !== "number") return; // notifications (update, locked) are not used
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error !== null && msg.error !== undefined) {
      p.reject(new OvsdbError(`OVSDB error: ${JSON.stringify(msg.error)}`));
    } else p.resolve(msg.result);
  }

  private fail(err: Error): void {
    this.closed ??= err;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
  }
}
