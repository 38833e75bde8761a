import { chmod, unlink } from "node:fs/promises";
import net from "node:net";
import {
  CLIENT_ID_MAX,
  encodeFrame,
  encodeGuest,
  FrameDecoder,
  GUEST_TYPES,
  HOST_TYPES,
  type Frame,
} from "./protocol.js";

/** Client slots: the top byte of a request id on the guest side (CLIENT_ID_MAX). */
const SLOTS = 255;
/** The multiplexer's ping when it connects: the reply tells it the agent already runs. */
const MUX_PING_ID = 1;
const MUX_THAW_ID = 2;
/**
 * Bytes queued to one side before the other is no longer read: the guest (root in it is the user's, maybe
 * hostile) or a client that does not read cannot make the hypervisor buffer without bound.
 */
const QUEUE_LIMIT = 1 << 20;

/** What the guest may still hold for a client: it is aborted when the client goes away. */
type Held = "starting" | "exec" | "file";

interface MuxClient {
  socket: net.Socket;
  slot: number;
  decoder: FrameDecoder;
  held: Map<number, Held>;
  froze: boolean;
}

const globalId = (slot: number, id: number): number => slot * 2 ** 24 + id;

/**
 * The hypervisor's side of the guest agent's port: QEMU's chardev takes one connection, so this is its only
 * client, and it serves any number of host clients (`pcocc exec`, the node relay, `save -s`) on the VM's
 * agent socket at once. Each client speaks the agent protocol as if it had the port alone; ids are
 * rewritten (CLIENT_ID_MAX) so replies and command output reach the client that asked. When a client goes,
 * the guest is told to abort what it held for it (a half-written file is removed, its commands run on
 * detached with stdin closed) and a freeze it left is thawed.
 */
export class AgentMux {
  private upstream: net.Socket | undefined;
  private server: net.Server | undefined;
  private readonly clients = new Map<number, MuxClient>();
  private readonly decoder = new FrameDecoder();
  /** The agent's last hello (pong id 0), given to every client that connects after it. */
  private hello: Buffer | undefined;
  private nextSlot = 1;

  constructor(
    private readonly qemuSocket: string,
    private readonly listenPath: string,
  ) {}

  /** Connects to QEMU's agent chardev (QEMU must be listening) and opens the clients' socket. */
  async start(): Promise<void> {
    const up = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(this.qemuSocket);
      s.once("connect", () => resolve(s));
      s.once("error", reject);
    });
    this.upstream = up;
    up.on("data", (chunk: Buffer) => this.fromGuest(chunk));
    up.on("drain", () => this.clients.forEach((c) => c.socket.resume()));
    up.on("error", () => undefined);
    up.on("close", () => {
      for (const c of this.clients.values()) c.socket.destroy();
      this.server?.close();
    });
    // lost in the guest kernel while the agent has not opened the port; then its hello comes instead
    up.write(encodeFrame(HOST_TYPES.ping, MUX_PING_ID, Buffer.alloc(0)));
    await unlink(this.listenPath).catch(() => undefined);
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.listenPath, () => resolve());
    });
    await chmod(this.listenPath, 0o600);
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.socket.destroy();
    this.upstream?.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private freeSlot(): number | undefined {
    // round robin: a slot is reused as late as possible, after late replies to its last client are gone
    for (let i = 0; i < SLOTS; i++) {
      const slot = ((this.nextSlot - 1 + i) % SLOTS) + 1;
      if (!this.clients.has(slot)) {
        this.nextSlot = (slot % SLOTS) + 1;
        return slot;
      }
    }
    return undefined;
  }

  private accept(socket: net.Socket): void {
    const slot = this.freeSlot();
    if (slot === undefined || !this.upstream || this.upstream.destroyed) {
      socket.destroy();
      return;
    }
    const client: MuxClient = { socket, slot, decoder: new FrameDecoder(), held: new Map(), froze: false };
    this.clients.set(slot, client);
    socket.on("data", (chunk: Buffer) => this.fromClient(client, chunk));
    socket.on("drain", () => this.resumeGuest());
    socket.on("error", () => undefined);
    socket.on("close", () => this.gone(client));
    if (this.hello) socket.write(this.hello);
  }

  private fromClient(c: MuxClient, chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = c.decoder.push(chunk);
    } catch {
      c.socket.destroy();
      return;
    }
    for (const f of frames) {
      if (f.id === 0 || f.id > CLIENT_ID_MAX) {
        const message = `request id ${f.id} out of range 1..${CLIENT_ID_MAX}`;
        c.socket.write(encodeGuest({ type: "error", id: f.id, message }));
        continue;
      }
      const id = globalId(c.slot, f.id);
      if (f.type === HOST_TYPES.exec || f.type === HOST_TYPES.attach) c.held.set(id, "starting");
      else if (f.type === HOST_TYPES["file-open"]) c.held.set(id, "file");
      else if (f.type === HOST_TYPES.freeze) c.froze = true;
      else if (f.type === HOST_TYPES.thaw) c.froze = false;
      this.upstream?.write(encodeFrame(f.type, id, f.payload));
    }
    if ((this.upstream?.writableLength ?? 0) > QUEUE_LIMIT) c.socket.pause(); // until the port drains
  }

  private fromGuest(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch {
      this.upstream?.destroy(); // the port's stream is out of step: start over with the hypervisor
      return;
    }
    for (const f of frames) {
      const slot = Math.floor(f.id / 2 ** 24);
      if (f.type === GUEST_TYPES.pong && (f.id === 0 || f.id === MUX_PING_ID)) this.agentUp(f, f.id === 0);
      if (slot === 0) continue;
      const c = this.clients.get(slot);
      if (!c) continue; // its client went away; what it held was aborted
      track(c.held, f);
      c.socket.write(encodeFrame(f.type, f.id % 2 ** 24, f.payload));
      if (c.socket.writableLength > QUEUE_LIMIT) this.upstream?.pause(); // until that client drains
    }
  }

  private resumeGuest(): void {
    for (const c of this.clients.values()) if (c.socket.writableLength > QUEUE_LIMIT) return;
    this.upstream?.resume();
  }

  /** A hello: on a fresh start of the agent (not the reply to our ping), what it held for anyone is gone. */
  private agentUp(f: Frame, restarted: boolean): void {
    this.hello = encodeFrame(GUEST_TYPES.pong, 0, f.payload);
    if (!restarted) return;
    for (const c of this.clients.values()) {
      c.held.clear();
      c.froze = false;
      c.socket.write(this.hello);
    }
  }

  private gone(c: MuxClient): void {
    this.clients.delete(c.slot);
    this.resumeGuest();
    const up = this.upstream;
    if (!up || up.destroyed) return;
    for (const id of c.held.keys()) up.write(encodeFrame(HOST_TYPES.abort, id, Buffer.alloc(0)));
    if (c.froze) up.write(encodeFrame(HOST_TYPES.thaw, MUX_THAW_ID, Buffer.alloc(0)));
  }
}

/** Follows what the guest still holds for a client from the replies and events it sends. */
function track(held: Map<number, Held>, f: Frame): void {
  const h = held.get(f.id);
  if (h === undefined) return;
  const end = f.type === GUEST_TYPES.exited || f.type === GUEST_TYPES.detached;
  if (h === "starting" && f.type === GUEST_TYPES.ok) held.set(f.id, "exec");
  else if (h === "starting" && f.type === GUEST_TYPES.error) held.delete(f.id);
  else if (h === "exec" && end) held.delete(f.id);
  else if (h === "file" && (f.type === GUEST_TYPES.ok || f.type === GUEST_TYPES.error)) held.delete(f.id);
}
