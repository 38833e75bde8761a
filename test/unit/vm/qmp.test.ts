import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { QmpClient, QmpDisconnectedError, QmpError } from "../../../src/vm/qmp.js";
import { PcoccError } from "../../../src/util/errors.js";

/** A scripted peer speaking QMP's wire format (greeting, replies by id, events), without newlines. */
function fakeQemu(path: string, handle: (cmd: Record<string, unknown>, sock: net.Socket) => void) {
  const server = net.createServer((sock) => {
    sock.write('{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}}');
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString();
      // client messages are single objects; split naively on "}{" boundaries for the fake
      for (;;) {
        const end = buf.indexOf('"id":');
        if (end < 0) return;
        const close = buf.indexOf("}", end);
        if (close < 0) return;
        const msg = JSON.parse(buf.slice(0, close + 1)) as Record<string, unknown>;
        buf = buf.slice(close + 1);
        if (msg.execute === "qmp_capabilities") sock.write(`{"return": {}, "id": ${JSON.stringify(msg.id)}}`);
        else handle(msg, sock);
      }
    });
  });
  return new Promise<net.Server>((r) => server.listen(path, () => r(server)));
}

describe("QmpClient", () => {
  let dir: string;
  let server: net.Server | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "qmp-test-"));
  });
  afterEach(async () => {
    server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("negotiates, matches replies to commands by id (out of order) and maps errors", async () => {
    const path = join(dir, "qmp");
    const held: Array<() => void> = [];
    server = await fakeQemu(path, (msg, sock) => {
      const id = JSON.stringify(msg.id);
      if (msg.execute === "slow") held.push(() => sock.write(`{"return": "slow-done", "id": ${id}}`));
      else if (msg.execute === "fast") {
        sock.write(`{"return": {"args": ${JSON.stringify(msg.arguments)}}, "id": ${id}}`);
        held.forEach((f) => f());
      } else
        sock.write(
          `{"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}, "id": ${id}}`,
        );
    });
    const qmp = await QmpClient.connect(path, { timeoutMs: 2000 });
    expect(qmp.greeting.version.qemu.major).toBe(7);
    const slow = qmp.execute("slow");
    const fast = qmp.execute("fast", { a: 1 });
    await expect(fast).resolves.toEqual({ args: { a: 1 } });
    await expect(slow).resolves.toBe("slow-done");
    const err = await qmp.execute("nope").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpError);
    expect(err).toBeInstanceOf(PcoccError);
    expect((err as QmpError).errorClass).toBe("CommandNotFound");
    expect((err as QmpError).message).toContain("has not been found");
    qmp.close();
  });

  it("delivers events to waiters and iterators, times out commands, and fails pending ones on disconnect", async () => {
    const path = join(dir, "qmp");
    let peer: net.Socket | undefined;
    server = await fakeQemu(path, (msg, sock) => {
      peer = sock;
      if (msg.execute === "emit") {
        sock.write(`{"return": {}, "id": ${JSON.stringify(msg.id)}}`);
        sock.write('{"event": "STOP", "data": {}}{"event": "BLOCK_JOB_COMPLETED", "data": {"device": "j1"}}');
      }
    });
    const qmp = await QmpClient.connect(path);
    const iter = qmp.events();
    const waited = qmp.waitEvent(
      ["BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"],
      (e) => e.data?.device === "j1",
    );
    await qmp.execute("emit");
    expect((await waited).event).toBe("BLOCK_JOB_COMPLETED");
    expect((await iter.next()).value?.event).toBe("STOP");
    expect((await iter.next()).value?.event).toBe("BLOCK_JOB_COMPLETED");
    await expect(qmp.execute("ignored", undefined, { timeoutMs: 50 })).rejects.toThrow(/timed out/);
    const pending = qmp.execute("never");
    peer?.destroy();
    await expect(pending).rejects.toBeInstanceOf(QmpDisconnectedError);
    expect((await iter.next()).done).toBe(true);
    expect(qmp.closed).toBe(true);
  });

  it("waits for a socket that appears late and gives up with a clear error", async () => {
    const path = join(dir, "late");
    setTimeout(() => void fakeQemu(path, () => undefined).then((s) => (server = s)), 100);
    const qmp = await QmpClient.connect(path, { timeoutMs: 3000 });
    qmp.close();
    await expect(QmpClient.connect(join(dir, "missing"), { timeoutMs: 100 })).rejects.toThrow(
      /unable to connect to the Qemu monitor/,
    );
  });
});
