import { connect, type Socket } from "node:net";
import { Duplex, type Readable, type Writable } from "node:stream";
import { encodeFrame, FrameDecoder } from "./protocol.js";

/**
 * A VM's agent socket exists only on the VM's node. A CLI elsewhere reaches the agents of one node through
 * one relay process there (`pcocc internal agent-relay`, started inside the job): the relay connects to
 * each of that node's VMs named on its command line and carries their byte streams over its stdin/stdout,
 * in the agent's own framing with the VM rank as the id. The relay only forwards bytes; the agent protocol
 * (hello, requests) runs end to end between the CLI and the guest. This module is that contract, both
 * sides of it.
 */
export const RELAY = {
  /** Both ways: bytes of the VM's stream. */
  data: 1,
  /** CLI → relay: close the VM's connection; relay → CLI: it closed. */
  close: 2,
  /** Relay → CLI: connected to the VM's socket. */
  opened: 3,
  /** Relay → CLI: cannot reach the VM (payload: the reason). */
  error: 4,
} as const;

/** Data frames stay well below the frame limit (an agent frame can be as large as that limit). */
const RELAY_CHUNK = 256 << 10;

function send(out: Writable, kind: number, rank: number, data: Buffer = Buffer.alloc(0)): void {
  if (out.destroyed || out.writableEnded) return;
  if (data.length === 0) out.write(encodeFrame(kind, rank, data));
  for (let off = 0; off < data.length; off += RELAY_CHUNK)
    out.write(encodeFrame(kind, rank, data.subarray(off, off + RELAY_CHUNK)));
}

/** What the relay serves: each VM's socket, or why it cannot (not on this node, not running). */
export type RelayTarget = { rank: number; socketPath: string } | { rank: number; error: string };

/**
 * The relay's side: connects to every target at once and forwards until `input` ends (the CLI is done or
 * gone), then closes every connection.
 */
export function serveRelay(input: Readable, output: Writable, targets: RelayTarget[]): Promise<void> {
  const sockets = new Map<number, Socket>();
  for (const t of targets) {
    if ("error" in t) {
      send(output, RELAY.error, t.rank, Buffer.from(t.error));
      continue;
    }
    const socket = connect(t.socketPath);
    let opened = false;
    sockets.set(t.rank, socket);
    socket.on("connect", () => {
      opened = true;
      send(output, RELAY.opened, t.rank);
    });
    socket.on("data", (d: Buffer) => send(output, RELAY.data, t.rank, d));
    socket.on("error", (err) => {
      if (!opened) send(output, RELAY.error, t.rank, Buffer.from(`${t.socketPath}: ${err.message}`));
    });
    socket.on("close", () => {
      if (opened) send(output, RELAY.close, t.rank);
      sockets.delete(t.rank);
    });
  }
  const decoder = new FrameDecoder();
  return new Promise((resolve) => {
    const finish = (): void => {
      for (const s of sockets.values()) s.destroy();
      resolve();
    };
    input.on("data", (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch {
        return finish();
      }
      for (const f of frames) {
        const socket = sockets.get(f.id);
        if (f.type === RELAY.data) socket?.write(f.payload);
        else if (f.type === RELAY.close) socket?.destroy();
      }
    });
    input.on("end", finish);
    input.on("close", finish);
    output.on("error", finish);
  });
}

/** One VM's stream through the relay, on the CLI's side. Emits `ready` once the relay reached the VM. */
class RelayStream extends Duplex {
  remoteClosed = false;
  constructor(
    private readonly out: Writable,
    private readonly rank: number,
  ) {
    super();
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    send(this.out, RELAY.data, this.rank, chunk);
    cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.remoteClosed) send(this.out, RELAY.close, this.rank);
    cb(err);
  }
}

/**
 * The CLI's side of one relay: `output` is the relay's stdin, `input` its stdout. Each stream is to be
 * handed to `agentHandshake(stream, "ready", ...)`.
 */
export class RelayLink {
  private readonly streams = new Map<number, RelayStream>();
  private readonly decoder = new FrameDecoder();

  constructor(
    private readonly output: Writable,
    input: Readable,
    ranks: number[],
  ) {
    for (const r of ranks) this.streams.set(r, new RelayStream(output, r));
    input.on("data", (chunk: Buffer) => {
      try {
        for (const f of this.decoder.push(chunk)) this.dispatch(f.type, f.id, f.payload);
      } catch (err) {
        this.fail(new Error(`bad frame from the agent relay: ${(err as Error).message}`));
      }
    });
    output.on("error", () => undefined); // the relay's end shows on input
  }

  stream(rank: number): Duplex {
    return this.streams.get(rank)!;
  }

  private dispatch(kind: number, rank: number, payload: Buffer): void {
    const s = this.streams.get(rank);
    if (!s || s.destroyed) return;
    if (kind === RELAY.opened) s.emit("ready");
    else if (kind === RELAY.data) s.push(payload);
    else if (kind === RELAY.error) s.destroy(new Error(payload.toString()));
    else if (kind === RELAY.close) {
      s.remoteClosed = true;
      s.push(null);
      s.destroy();
    }
  }

  /** The relay is gone: every stream still open fails with `err`. */
  fail(err: Error): void {
    for (const s of this.streams.values()) {
      s.remoteClosed = true;
      if (!s.destroyed) s.destroy(err);
    }
  }

  /** Done with every VM: the relay closes its connections and exits. */
  end(): void {
    this.output.end();
  }
}
