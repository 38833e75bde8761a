import { mkdtemp, rm, stat } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AgentMux } from "../../../src/agent/mux.js";
import {
  decodeGuest,
  decodeHost,
  encodeGuest,
  encodeHost,
  FrameDecoder,
  type GuestMessage,
  type HostMessage,
} from "../../../src/agent/protocol.js";

/** Stands in for QEMU's chardev with the guest agent behind it: records what reaches it, answers on demand. */
class FakePort {
  readonly seen: HostMessage[] = [];
  socket?: Socket;
  private readonly decoder = new FrameDecoder();
  constructor(readonly server: Server) {
    server.on("connection", (s) => {
      this.socket = s;
      s.on("data", (d: Buffer) => this.seen.push(...this.decoder.push(d).map(decodeHost)));
    });
  }
  send(m: GuestMessage): void {
    this.socket!.write(encodeGuest(m));
  }
}

/** A host client on the multiplexer's socket, collecting what the guest sends it. */
async function client(path: string) {
  const s = connect(path);
  const got: GuestMessage[] = [];
  const d = new FrameDecoder();
  s.on("data", (b: Buffer) => got.push(...d.push(b).map(decodeGuest)));
  await new Promise((r) => s.once("connect", r));
  return { s, got, send: (m: HostMessage) => s.write(encodeHost(m)) };
}

describe("agent multiplexer", () => {
  let dir: string;
  let port: FakePort;
  let mux: AgentMux;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pcocc-mux-"));
    const server = createServer();
    port = new FakePort(server);
    await new Promise<void>((r) => server.listen(join(dir, "qemu.sock"), r));
    mux = new AgentMux(join(dir, "qemu.sock"), join(dir, "agent.sock"));
    await mux.start();
  });
  afterEach(async () => {
    await mux.close();
    port.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps two clients' ids apart and routes each reply and output to its client", async () => {
    expect((await stat(join(dir, "agent.sock"))).mode & 0o777).toBe(0o600);
    await vi.waitFor(() => expect(port.seen).toEqual([{ type: "ping", id: 1 }]));
    port.send({ type: "pong", id: 0, version: "v", hostname: "vm0", cpus: 1 }); // the agent's hello
    const a = await client(join(dir, "agent.sock"));
    const b = await client(join(dir, "agent.sock"));
    await vi.waitFor(() =>
      expect(b.got).toEqual([{ type: "pong", id: 0, version: "v", hostname: "vm0", cpus: 1 }]),
    );
    a.send({ type: "listexec", id: 5 });
    b.send({ type: "listexec", id: 5 });
    await vi.waitFor(() => expect(port.seen).toHaveLength(3));
    const [idA, idB] = port.seen.slice(1).map((m) => m.id);
    expect(idA).not.toBe(idB);
    expect([idA! % 2 ** 24, idB! % 2 ** 24]).toEqual([5, 5]);
    port.send({ type: "output", id: idB!, stream: 1, data: Buffer.from("for b") });
    port.send({ type: "execs", id: idA!, execs: [] });
    await vi.waitFor(() => expect(a.got.at(-1)).toEqual({ type: "execs", id: 5, execs: [] }));
    await vi.waitFor(() => expect(b.got.at(-1)?.type).toBe("output"));
    expect(a.got.filter((m) => m.type === "output")).toEqual([]);
    a.send({ type: "ping", id: 0x1000000 });
    await vi.waitFor(() => expect(a.got.at(-1)).toMatchObject({ type: "error", id: 0x1000000 }));
    a.s.destroy();
    b.s.destroy();
  });

  it("aborts what a vanished client held: its open file, its running command, its freeze", async () => {
    const a = await client(join(dir, "agent.sock"));
    a.send({ type: "file-open", id: 1, path: "/tmp/f", mode: 0o644 });
    a.send({ type: "file-data", id: 1, data: Buffer.from("half") });
    a.send({ type: "exec", id: 2, argv: ["sleep", "9"], env: [], user: "", cwd: "", stdin: true });
    a.send({ type: "exec", id: 3, argv: ["true"], env: [], user: "", cwd: "", stdin: false });
    a.send({ type: "freeze", id: 4, timeoutS: 60 });
    await vi.waitFor(() => expect(port.seen).toHaveLength(6));
    const g = (id: number) => port.seen.find((m) => m.id % 2 ** 24 === id && m.type !== "ping")!.id;
    port.send({ type: "ok", id: g(2), value: 100 });
    port.send({ type: "ok", id: g(3), value: 101 });
    port.send({ type: "exited", id: g(3), code: 0 }); // ended: nothing left to abort for it
    await vi.waitFor(() => expect(a.got.filter((m) => m.type === "exited")).toHaveLength(1));
    a.s.destroy();
    await vi.waitFor(() => expect(port.seen).toHaveLength(9));
    expect(port.seen.slice(6)).toEqual([
      { type: "abort", id: g(1) },
      { type: "abort", id: g(2) },
      { type: "thaw", id: 2 },
    ]);
  });
});
