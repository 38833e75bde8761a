/**
 * The pcocc guest agent's wire format (guest-agent/PROTOCOL.md), the one encoder/decoder of the host side.
 * A frame is `u32 length | u8 type | u32 id | payload`, big-endian, `length` counting type + id + payload.
 */

export const PROTOCOL_VERSION = "pcocc-agent 2";
export const FRAME_HEADER = 9;
/** Largest `length` either side accepts; the agent drops a connection that sends more. */
export const FRAME_MAX = 1 << 20;
/**
 * Request ids a host client may use (24 bits): the VM's multiplexer (mux.ts) puts the client's slot
 * (1..255) in the top byte of every id on its way to the guest and takes it off on the way back.
 */
export const CLIENT_ID_MAX = 0xffffff;
/** Content chunks (stdin, writefile) stay well below FRAME_MAX. */
export const CHUNK = 64 << 10;

export const HOST_TYPES = {
  ping: 1,
  exec: 2,
  stdin: 3,
  signal: 4,
  "file-open": 5,
  "file-data": 6,
  "file-close": 7,
  freeze: 8,
  thaw: 9,
  listexec: 10,
  abort: 11,
  attach: 12,
  resize: 13,
} as const;

/** `exec` flag bits. */
const EXEC_STDIN = 1;
const EXEC_PTY = 2;
const EXEC_CPUS = 4;

export const GUEST_TYPES = {
  ok: 0x80,
  error: 0x81,
  pong: 0x82,
  output: 0x84,
  exited: 0x85,
  execs: 0x86,
  detached: 0x87,
} as const;

export type HostMessage =
  | { type: "ping"; id: number }
  | {
      type: "exec";
      id: number;
      argv: string[];
      env: string[];
      /** "" = root */
      user: string;
      /** "" = the user's home */
      cwd: string;
      /** Keep the command's stdin open for `stdin` frames; otherwise it reads /dev/null. */
      stdin: boolean;
      /** Run in a new terminal of this size (0 × 0: the kernel's default). */
      pty?: { rows: number; cols: number };
      /** Pin the command to these guest CPUs. */
      cpus?: number[];
    }
  | { type: "stdin"; id: number; data: Buffer }
  | { type: "signal"; id: number; signal: number }
  | { type: "file-open"; id: number; path: string; mode: number }
  | { type: "file-data"; id: number; data: Buffer }
  | { type: "file-close"; id: number }
  | { type: "freeze"; id: number; timeoutS: number }
  | { type: "thaw"; id: number }
  | { type: "listexec"; id: number }
  /** The client behind `id` is gone: a file being written is removed, a command is detached. */
  | { type: "abort"; id: number }
  /** Output, exit, stdin and signals of command `execId` go through request `id` from now on. */
  | { type: "attach"; id: number; execId: number }
  | { type: "resize"; id: number; rows: number; cols: number };

export interface ExecEntry {
  id: number;
  pid: number;
  exited: boolean;
  command: string;
}

export type GuestMessage =
  | { type: "ok"; id: number; value?: number }
  | { type: "error"; id: number; message: string }
  /** id 0: the agent's hello on every new connection. */
  | { type: "pong"; id: number; version: string; hostname: string; cpus: number }
  | { type: "output"; id: number; stream: 1 | 2; data: Buffer }
  | { type: "exited"; id: number; code?: number; signal?: number }
  | { type: "execs"; id: number; execs: ExecEntry[] }
  /** Another client attached to the command of `id`: nothing more comes for it here. */
  | { type: "detached"; id: number };

export class ProtocolError extends Error {}

class Writer {
  private parts: Buffer[] = [];
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, "utf8");
    if (b.includes(0)) throw new ProtocolError(`a string field cannot hold a NUL byte: ${JSON.stringify(s)}`);
    return this.u32(b.length).bytes(b);
  }
  strs(list: string[]): this {
    this.u32(list.length);
    for (const s of list) this.str(s);
    return this;
  }
  frame(type: number, id: number): Buffer {
    return encodeFrame(type, id, Buffer.concat(this.parts));
  }
}

/** `u32 length | u8 type | u32 id | payload`: the agent's framing, also used by the node relay. */
export function encodeFrame(type: number, id: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(FRAME_HEADER);
  const length = payload.length + FRAME_HEADER - 4;
  if (length > FRAME_MAX) throw new ProtocolError(`frame of ${length} bytes exceeds ${FRAME_MAX}`);
  head.writeUInt32BE(length, 0);
  head.writeUInt8(type, 4);
  head.writeUInt32BE(id >>> 0, 5);
  return Buffer.concat([head, payload]);
}

class Reader {
  private off = 0;
  constructor(private readonly b: Buffer) {}
  private need(n: number): void {
    if (this.off + n > this.b.length) throw new ProtocolError("truncated payload");
  }
  u8(): number {
    this.need(1);
    return this.b.readUInt8(this.off++);
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }
  str(): string {
    const n = this.u32();
    this.need(n);
    const s = this.b.toString("utf8", this.off, this.off + n);
    this.off += n;
    return s;
  }
  strs(): string[] {
    const n = this.u32();
    return Array.from({ length: n }, () => this.str());
  }
  rest(): Buffer {
    const r = this.b.subarray(this.off);
    this.off = this.b.length;
    return r;
  }
  left(): number {
    return this.b.length - this.off;
  }
}

export function encodeHost(m: HostMessage): Buffer {
  const w = new Writer();
  switch (m.type) {
    case "exec":
      w.u32((m.stdin ? EXEC_STDIN : 0) | (m.pty ? EXEC_PTY : 0) | (m.cpus ? EXEC_CPUS : 0))
        .str(m.user)
        .str(m.cwd)
        .strs(m.argv)
        .strs(m.env);
      if (m.pty) w.u32(m.pty.rows).u32(m.pty.cols);
      if (m.cpus) {
        w.u32(m.cpus.length);
        for (const c of m.cpus) w.u32(c);
      }
      break;
    case "attach":
      w.u32(m.execId);
      break;
    case "resize":
      w.u32(m.rows).u32(m.cols);
      break;
    case "stdin":
    case "file-data":
      w.bytes(m.data);
      break;
    case "signal":
      w.u32(m.signal);
      break;
    case "file-open":
      w.str(m.path).u32(m.mode);
      break;
    case "freeze":
      w.u32(m.timeoutS);
      break;
  }
  return w.frame(HOST_TYPES[m.type], m.id);
}

export function encodeGuest(m: GuestMessage): Buffer {
  const w = new Writer();
  switch (m.type) {
    case "ok":
      if (m.value !== undefined) w.u32(m.value);
      break;
    case "error":
      w.str(m.message);
      break;
    case "pong":
      w.str(m.version).str(m.hostname).u32(m.cpus);
      break;
    case "output":
      w.u8(m.stream).bytes(m.data);
      break;
    case "exited":
      w.u8(m.signal !== undefined ? 1 : 0).u32(m.signal ?? m.code ?? 0);
      break;
    case "execs":
      w.u32(m.execs.length);
      for (const e of m.execs)
        w.u32(e.id)
          .u32(e.pid)
          .u8(e.exited ? 1 : 0)
          .str(e.command);
      break;
  }
  return w.frame(GUEST_TYPES[m.type], m.id);
}

export interface Frame {
  type: number;
  id: number;
  payload: Buffer;
}

export function decodeGuest(f: Frame): GuestMessage {
  const r = new Reader(f.payload);
  const id = f.id;
  switch (f.type) {
    case GUEST_TYPES.ok:
      return r.left() >= 4 ? { type: "ok", id, value: r.u32() } : { type: "ok", id };
    case GUEST_TYPES.error:
      return { type: "error", id, message: r.str() };
    case GUEST_TYPES.pong:
      return { type: "pong", id, version: r.str(), hostname: r.str(), cpus: r.u32() };
    case GUEST_TYPES.output: {
      const stream = r.u8();
      if (stream !== 1 && stream !== 2) throw new ProtocolError(`output on unknown stream ${stream}`);
      return { type: "output", id, stream, data: r.rest() };
    }
    case GUEST_TYPES.exited: {
      const kind = r.u8();
      const v = r.u32();
      return kind === 1 ? { type: "exited", id, signal: v } : { type: "exited", id, code: v };
    }
    case GUEST_TYPES.detached:
      return { type: "detached", id };
    case GUEST_TYPES.execs: {
      const n = r.u32();
      const execs = Array.from({ length: n }, () => ({
        id: r.u32(),
        pid: r.u32(),
        exited: r.u8() === 1,
        command: r.str(),
      }));
      return { type: "execs", id, execs };
    }
  }
  throw new ProtocolError(`unknown guest message type 0x${f.type.toString(16)}`);
}

export function decodeHost(f: Frame): HostMessage {
  const r = new Reader(f.payload);
  const id = f.id;
  const name = (Object.keys(HOST_TYPES) as Array<keyof typeof HOST_TYPES>).find(
    (k) => HOST_TYPES[k] === f.type,
  );
  switch (name) {
    case "exec": {
      const flags = r.u32();
      const m: HostMessage = {
        type: "exec",
        id,
        stdin: (flags & EXEC_STDIN) !== 0,
        user: r.str(),
        cwd: r.str(),
        argv: r.strs(),
        env: r.strs(),
      };
      if (flags & EXEC_PTY) m.pty = { rows: r.u32(), cols: r.u32() };
      if (flags & EXEC_CPUS) m.cpus = Array.from({ length: r.u32() }, () => r.u32());
      return m;
    }
    case "attach":
      return { type: "attach", id, execId: r.u32() };
    case "resize":
      return { type: "resize", id, rows: r.u32(), cols: r.u32() };
    case "stdin":
    case "file-data":
      return { type: name, id, data: r.rest() };
    case "signal":
      return { type: "signal", id, signal: r.u32() };
    case "file-open":
      return { type: "file-open", id, path: r.str(), mode: r.u32() };
    case "freeze":
      return { type: "freeze", id, timeoutS: r.u32() };
    case "ping":
    case "file-close":
    case "thaw":
    case "listexec":
    case "abort":
      return { type: name, id };
  }
  throw new ProtocolError(`unknown host message type ${f.type}`);
}

/** Splits a byte stream into frames; a length outside the protocol's bounds is an error. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32BE(0);
      if (length < FRAME_HEADER - 4 || length > FRAME_MAX)
        throw new ProtocolError(`bad frame length ${length}`);
      if (this.pending.length < length + 4) break;
      frames.push({
        type: this.pending.readUInt8(4),
        id: this.pending.readUInt32BE(5),
        payload: Buffer.from(this.pending.subarray(FRAME_HEADER, length + 4)),
      });
      this.pending = this.pending.subarray(length + 4);
    }
    return frames;
  }
}
