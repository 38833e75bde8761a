import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import type { Etcd3, IEvent, IKeyValue, IOptions, IRequestOp, Watcher } from "etcd3";
import { PcoccError } from "../util/index.js";

/** One key as read from etcd; `value` is the parsed JSON (unchecked: etcd contents are untrusted input). */
export interface Entry<T = unknown> {
  key: string;
  value: T;
  modRevision: number;
  createRevision: number;
  /** "0" when the key has no lease. */
  lease: string;
}

export interface PutItem {
  key: string;
  value: unknown;
  lease?: string;
}

export interface Snapshot<T = unknown> {
  entries: Map<string, Entry<T>>;
  revision: number;
}

export interface Following {
  close(): Promise<void>;
}

export interface LeaseKeeper {
  close(): void;
}

export interface ConnectOptions {
  endpoints: string[];
  user?: { name: string; password: string };
  caCert?: Buffer;
  /** Per unary call deadline. */
  callTimeoutMs?: number;
}

/** A positive int64, never 0 (0 asks etcd to choose). */
function randomLeaseId(): string {
  const id = randomBytes(8).readBigUInt64BE() & ((1n << 63n) - 1n);
  return id === 0n ? "1" : id.toString();
}

/** etcd refuses txns with more operations than --max-txn-ops (128 by default). */
const MAX_TXN_OPS = 128;
const CAS_MAX_ATTEMPTS = 200;

function decode(kv: IKeyValue): Entry {
  const raw = kv.value.toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = undefined;
  }
  return {
    key: kv.key.toString("utf8"),
    value,
    modRevision: Number(kv.mod_revision),
    createRevision: Number(kv.create_revision),
    lease: kv.lease,
  };
}

function encode(value: unknown): string {
  return JSON.stringify(value);
}

/** etcd refuses a read whose permission check raced an auth change; the same call succeeds again. */
const AUTH_RETRIES = 8;
const isAuthRevisionOld = (err: unknown): boolean =>
  err instanceof Error && /revision of auth store is old/.test(err.message);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * etcd3's Watcher.cancel() waits for the server's answer (watch id, then cancel confirmation), which may
 * never come on a stuck stream: closing must not hang on it (the client's close() drops the stream anyway).
 */
const CANCEL_WAIT_MS = 1_000;
async function cancelWatch(w: Watcher): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    w.cancel().catch(() => {}),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, CANCEL_WAIT_MS))),
  ]);
  clearTimeout(timer);
}

/**
 * A thin, typed layer over etcd3 that adds what pcocc needs and the library leaves out: translated errors,
 * call deadlines (a dead etcd must not hang the CLI), JSON values, batched txns, compare-and-swap loops,
 * level-triggered prefix following that survives reconnects and compaction, and keep-alive of lease ids
 * granted by another process.
 */
export class Keystore {
  private closed = false;
  private readonly followings = new Set<Following>();
  private readonly keepers = new Set<LeaseKeeper>();

  private constructor(
    readonly etcd: Etcd3,
    /** etcd user this client authenticates as ("" when auth is off). */
    readonly user: string,
    private readonly endpoints: string[],
  ) {}

  static async connect(opts: ConnectOptions): Promise<Keystore> {
    const { Etcd3 } = await import("etcd3");
    const callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    const options: IOptions = {
      hosts: opts.endpoints,
      dialTimeout: 5_000,
      // Streams (watch, keep-alive) must not get a deadline or they would be cut after it.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    };
    if (opts.user) {
      options.auth = {
        username: opts.user.name,
        password: opts.user.password,
        callOptions: () => ({ deadline: Date.now() + callTimeoutMs }),
      };
    }
    if (opts.caCert) {
      options.credentials = { rootCertificate: opts.caCert };
      if (opts.endpoints.some((e) => isIP(new URL(e).hostname))) quietIpServerNameWarning();
    }
    return new Keystore(new Etcd3(options), opts.user?.name ?? "", opts.endpoints);
  }

  /**
   * Runs one etcd call with translated errors. A call that raced a change of etcd's auth (another node's
   * setup adding a user's role: "revision of auth store is old") is retried on a fresh token.
   */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new PcoccError(`keystore: ${what} after close`);
      try {
        return await fn();
      } catch (err) {
        if (!isAuthRevisionOld(err) || attempt >= AUTH_RETRIES) throw this.translate(what, err);
        this.dropToken();
        await sleep(Math.random() * 10 * attempt);
      }
    }
  }

  /**
   * etcd3 re-authenticates by itself only on "invalid auth token"; a token from before an auth change (JWT
   * tokens carry the auth revision) must be dropped too, and etcd3 1.x has no public call for that.
   */
  private dropToken(): void {
    const pool = (this.etcd as unknown as { pool?: { authenticator?: { invalidateMetadata?: () => void } } })
      .pool;
    pool?.authenticator?.invalidateMetadata?.();
  }

  translate(what: string, err: unknown): unknown {
    if (err instanceof PcoccError || !(err instanceof Error)) return err;
    const name = err.constructor.name;
    const who = this.user || "anonymous";
    if (
      name === "EtcdAuthenticationFailedError" ||
      /authentication failed|user name is empty/.test(err.message)
    ) {
      return new PcoccError(`Keystore authentication error: access denied for ${who}`, { cause: err });
    }
    if (name === "EtcdPermissionDeniedError" || /permission denied/.test(err.message)) {
      return new PcoccError(`Keystore: permission denied for ${who} (${what})`, { cause: err });
    }
    if (
      /Unavailable|Unimplemented|DeadlineExceeded|Cancelled|ECONNREFUSED|No connection established/i.test(
        name + err.message,
      )
    ) {
      return new PcoccError(
        `Keystore unreachable at ${this.endpoints.join(", ")} (${what}): ${err.message}`,
        {
          cause: err,
        },
      );
    }
    if (isAuthRevisionOld(err)) {
      return new PcoccError(`Keystore: etcd's authentication kept changing during ${what}; try again`, {
        cause: err,
      });
    }
    // anything else etcd answered is a fact about the keystore, not a bug of pcocc
    if (/^(GRPC|Etcd)\w*Error$/.test(name)) {
      return new PcoccError(`Keystore error (${what}): ${err.message}`, { cause: err });
    }
    return err;
  }

  async get<T = unknown>(key: string): Promise<Entry<T> | undefined> {
    const res = await this.call(`get ${key}`, () => this.etcd.get(key).exec());
    const kv = res.kvs[0];
    return kv ? (decode(kv) as Entry<T>) : undefined;
  }

  async getPrefix<T = unknown>(prefix: string): Promise<Snapshot<T>> {
    const res = await this.call(`get ${prefix}*`, () => this.etcd.getAll().prefix(prefix).exec());
    const entries = new Map<string, Entry<T>>();
    for (const kv of res.kvs) {
      const e = decode(kv) as Entry<T>;
      entries.set(e.key, e);
    }
    return { entries, revision: Number(res.header.revision) };
  }

  async put(key: string, value: unknown, opts: { lease?: string } = {}): Promise<number> {
    const res = await this.call(`put ${key}`, () => {
      const b = this.etcd.put(key).value(encode(value));
      return (opts.lease ? b.lease(opts.lease) : b).exec();
    });
    return Number(res.header.revision);
  }

  /** Writes many keys in as few round trips as etcd allows (one txn per 128 keys), atomically per txn. */
  async putMany(items: PutItem[]): Promise<void> {
    for (let i = 0; i < items.length; i += MAX_TXN_OPS) {
      const ops: IRequestOp[] = items.slice(i, i + MAX_TXN_OPS).map((it) => ({
        request_put: {
          key: Buffer.from(it.key),
          value: Buffer.from(encode(it.value)),
          lease: it.lease ?? "0",
        },
      }));
      await this.call(`put ${ops.length} keys`, () =>
        this.etcd.kv.txn({ compare: [], success: ops, failure: [] }),
      );
    }
  }

  async delete(key: string): Promise<void> {
    await this.call(`delete ${key}`, () => this.etcd.delete().key(key).exec());
  }

  async deletePrefix(prefix: string): Promise<void> {
    await this.call(`delete ${prefix}*`, () => this.etcd.delete().prefix(prefix).exec());
  }

  /**
   * Compare-and-swap loop on one key: `fn` gets the current value (undefined if absent) and returns the new
   * value (undefined deletes) plus a result, or `unchanged` to skip the write. Retried with jittered backoff until no one else wrote in between.
   */
  async update<T, R>(
    key: string,
    fn: (current: T | undefined) => { value: T | undefined; result: R; unchanged?: boolean },
    opts: { lease?: string } = {},
  ): Promise<R> {
    for (let attempt = 0; attempt < CAS_MAX_ATTEMPTS; attempt++) {
      const current = await this.get<T>(key);
      const { value, result, unchanged } = fn(current?.value);
      if (unchanged) return result;
      const success: IRequestOp[] =
        value === undefined
          ? [{ request_delete_range: { key: Buffer.from(key) } }]
          : [
              {
                request_put: {
                  key: Buffer.from(key),
                  value: Buffer.from(encode(value)),
                  lease: opts.lease ?? "0",
                },
              },
            ];
      const res = await this.call(`update ${key}`, () =>
        this.etcd.kv.txn({
          compare: [
            {
              key: Buffer.from(key),
              target: "Mod",
              result: "Equal",
              mod_revision: String(current?.modRevision ?? 0),
            },
          ],
          success,
          failure: [],
        }),
      );
      if (res.succeeded) return result;
      await sleep(Math.random() * Math.min(200, 5 * 2 ** Math.min(attempt, 6)));
    }
    throw new PcoccError(`keystore: too much contention updating ${key}`);
  }

  /**
   * Keeps a live view of every key under `prefix`: `onChange` gets the whole current set after the initial
   * read and after each batch of changes. Resolves once the watch is established. A watch cancelled by etcd
   * (compaction of the revision it resumes from) or a reconnection triggers a fresh read, so the view never
   * misses a change; `onError` gets errors that a re-read cannot fix (e.g. permission denied). An
   * `onChange` that returns true from the first view has all it needs: no watch is made then.
   */
  async follow<T = unknown>(
    prefix: string,
    onChange: (entries: Map<string, Entry<T>>, revision: number) => boolean | void,
    onError: (err: unknown) => void = () => {},
  ): Promise<Following> {
    let entries = new Map<string, Entry<T>>();
    let revision = 0;
    let watcher: Watcher | undefined;
    let stopped = false;
    let resyncing: Promise<void> | undefined;

    const attach = async (): Promise<void> => {
      const snap = await this.getPrefix<T>(prefix);
      entries = snap.entries;
      revision = snap.revision;
      if (stopped || onChange(entries, revision) === true) return void (stopped = true);
      const w = await this.call(`watch ${prefix}*`, () =>
        this.etcd
          .watch()
          .prefix(prefix)
          .startRevision(String(revision + 1))
          .create(),
      );
      if (stopped) {
        await cancelWatch(w);
        return;
      }
      watcher = w;
      let lostConnection = false;
      // Only event revisions count: a catching-up watch response's header revision can be ahead of
      // events still to come, so it must not be used to drop or skip anything.
      const base = revision;
      w.on("data", (res) => {
        const latest = applyEvents(entries, res.events, base);
        if (latest === undefined) return;
        revision = Math.max(revision, latest);
        if (!stopped) onChange(entries, revision);
      });
      w.on("disconnected", () => {
        lostConnection = true;
      });
      w.on("connected", () => {
        if (lostConnection) {
          lostConnection = false;
          resync(w);
        }
      });
      w.on("error", () => resync(w));
    };

    const resync = (from: Watcher): void => {
      if (stopped || resyncing || watcher !== from) return;
      watcher = undefined;
      resyncing = (async () => {
        await cancelWatch(from);
        for (let attempt = 0; !stopped; attempt++) {
          try {
            await attach();
            return;
          } catch (err) {
            if (err instanceof PcoccError && /permission denied|authentication/.test(err.message)) {
              onError(err);
              return;
            }
            await sleep(Math.min(5_000, 100 * 2 ** attempt));
          }
        }
      })().finally(() => {
        resyncing = undefined;
      });
    };

    await attach();
    const following: Following = {
      close: async () => {
        stopped = true;
        this.followings.delete(following);
        await resyncing;
        if (watcher) await cancelWatch(watcher);
      },
    };
    this.followings.add(following);
    return following;
  }

  /**
   * Waits until `test` accepts the current view of `prefix` and returns what it returned — a watch, not a
   * poll. Rejects with `timeoutMessage` after `timeoutMs`.
   */
  async waitFor<T, R>(
    prefix: string,
    test: (entries: Map<string, Entry<T>>) => R | undefined,
    opts: { timeoutMs: number; timeoutMessage: string },
  ): Promise<R> {
    let following: Following | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    try {
      return await new Promise<R>((resolve, reject) => {
        timer = setTimeout(() => reject(new PcoccError(opts.timeoutMessage)), opts.timeoutMs);
        this.follow<T>(
          prefix,
          (entries) => {
            if (settled) return true;
            let r: R | undefined;
            try {
              r = test(entries);
            } catch (err) {
              settled = true;
              reject(err);
              return true;
            }
            if (r !== undefined) {
              settled = true;
              resolve(r);
            }
            // already there (the usual case on the start path): no watch to make and cancel
            return settled;
          },
          reject,
        ).then((f) => {
          following = f;
          if (settled) void f.close();
        }, reject);
      });
    } finally {
      settled = true;
      clearTimeout(timer);
      await following?.close();
    }
  }

  /**
   * Grants a lease with an id chosen at random: etcd's own ids count up, and anyone who can guess a lease id
   * can keep it alive or list its keys (etcd 3.4 checks no permission for either).
   */
  async grantLease(ttlSeconds: number): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const id = randomLeaseId();
      try {
        const res = await this.call("grant lease", () =>
          this.etcd.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: id }),
        );
        return res.ID;
      } catch (err) {
        if (!(err instanceof Error && /lease already exists/.test(err.message)) || attempt >= 3) throw err;
      }
    }
  }

  /** Revokes a lease and deletes its keys; a lease already gone is not an error. */
  async revokeLease(id: string): Promise<void> {
    try {
      await this.call(`revoke lease ${id}`, () => this.etcd.leaseClient.leaseRevoke({ ID: id }));
    } catch (err) {
      if (err instanceof Error && /requested lease not found|EtcdLeaseInvalid/.test(err.message + err.name))
        return;
      throw err;
    }
  }

  /** Seconds left on a lease, or -1 if it no longer exists. */
  async leaseTtl(id: string): Promise<number> {
    const res = await this.call(`lease ${id} ttl`, () =>
      this.etcd.leaseClient.leaseTimeToLive({ ID: id, keys: false }),
    );
    return Number(res.TTL);
  }

  /**
   * Keeps leases granted elsewhere alive (every ttl/3) until closed; `onLost` fires once if etcd says a
   * lease is gone (revoked or expired) — then the job's keys are gone too. Transient errors are retried.
   */
  keepAlive(ids: string[], ttlSeconds: number, onLost: (id: string) => void = () => {}): LeaseKeeper {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async (): Promise<void> => {
      for (const id of ids) {
        if (stopped) return;
        try {
          const stream = await this.etcd.leaseClient.leaseKeepAlive();
          const ttl = await new Promise<number>((resolve, reject) => {
            stream.on("data", (res) => resolve(Number(res.TTL)));
            stream.on("error", reject);
            stream.write({ ID: id });
          }).finally(() => stream.end());
          if (ttl <= 0 && !stopped) {
            stopped = true;
            onLost(id);
            return;
          }
        } catch {
          // transient: next tick retries
        }
      }
      if (!stopped) timer = setTimeout(() => void tick(), Math.max(500, (ttlSeconds * 1000) / 3));
    };
    void tick();
    const keeper: LeaseKeeper = {
      close: () => {
        stopped = true;
        clearTimeout(timer);
        this.keepers.delete(keeper);
      },
    };
    this.keepers.add(keeper);
    return keeper;
  }

  /** Stops every watch and keep-alive and the gRPC channels, so that the process can exit. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const k of [...this.keepers]) k.close();
    await Promise.all([...this.followings].map((f) => f.close()));
    this.closed = true;
    this.etcd.close();
  }
}

/**
 * Applies a watch response's events newer than `base` (the snapshot the watch started from) to `entries`;
 * returns the newest event revision applied, or undefined when nothing changed.
 */
function applyEvents<T>(entries: Map<string, Entry<T>>, events: IEvent[], base: number): number | undefined {
  let latest: number | undefined;
  for (const ev of events) {
    const rev = Number(ev.kv.mod_revision);
    if (rev <= base) continue;
    const key = ev.kv.key.toString("utf8");
    if (ev.type === "Put") entries.set(key, decode(ev.kv) as Entry<T>);
    else entries.delete(key);
    latest = Math.max(latest ?? 0, rev);
  }
  return latest;
}

/**
 * etcd servers are commonly named by address, with the address in their certificate, and grpc-js then
 * hands the address to TLS as server name. The certificate is still checked against that address; only
 * SNI cannot carry it, and Node says so on stderr (DEP0123) once per process — a line every user command
 * would print. That one warning is dropped; every other warning still goes out.
 */
function quietIpServerNameWarning(): void {
  const emit = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === "object" ? (rest[0] as { code?: string })?.code : rest[1];
    if (code === "DEP0123") return;
    (emit as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}
