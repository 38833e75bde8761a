import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { JsonValueSplitter } from "../../../src/util/json-stream.js";
import { OvsdbClient } from "../../../src/net/ovsdb.js";

describe("OvsdbClient against a scripted peer", () => {
  let server: Server | undefined;
  let dir: string | undefined;
  afterEach(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function peer(onMessage: (sock: Socket, msg: Record<string, unknown>) => void): Promise<string> {
    dir = mkdtempSync(join(tmpdir(), "ovsdb-"));
    const path = join(dir, "db.sock");
    server = createServer((sock) => {
      const s = new JsonValueSplitter();
      sock.on("data", (d) => s.push(d).forEach((m) => onMessage(sock, m as Record<string, unknown>)));
    });
    await new Promise<void>((r) => server!.listen(path, r));
    return path;
  }

  it("matches replies by id, answers the server's echo, and names the failed operation", async () => {
    let echoed: unknown;
    const path = await peer((sock, msg) => {
      if (msg.method === "transact") {
        // Server keepalive first, then the reply in two pieces without a trailing newline.
        sock.write(JSON.stringify({ method: "echo", params: ["ka"], id: "echo" }));
        const reply = JSON.stringify({
          id: msg.id,
          error: null,
          result: [{ uuid: ["uuid", "x"] }, { error: "constraint violation", details: "bad name" }],
        });
        sock.write(reply.slice(0, 10));
        setTimeout(() => sock.write(reply.slice(10)), 5);
      } else if (msg.id === "echo") echoed = msg.result;
      else if (msg.method === "echo")
        sock.write(JSON.stringify({ id: msg.id, error: null, result: msg.params }));
    });
    const c = await OvsdbClient.open(path);
    await expect(
      c.transact([
        { op: "insert", table: "Interface", row: {} },
        { op: "insert", table: "Port", row: {} },
      ]),
    ).rejects.toThrow("OVSDB transaction failed at insert on Port: constraint violation (bad name)");
    expect(echoed).toEqual(["ka"]);
    expect(await c.echo()).toEqual(["pcocc"]);
    c.close();
  });

  it("fails pending requests when the server goes away, and times out silent servers", async () => {
    const path = await peer((sock, msg) => {
      if (msg.method === "transact") sock.destroy();
    });
    const c = await OvsdbClient.open(path);
    await expect(c.transact([{ op: "select", table: "Bridge", where: [] }])).rejects.toThrow(/closed/);
    const path2 = await peer(() => {});
    const c2 = await OvsdbClient.open(path2, { timeoutMs: 50 });
    await expect(c2.echo()).rejects.toThrow(/no answer to echo within 50 ms/);
    c2.close();
  });

  it("reports an absent socket clearly", async () => {
    await expect(OvsdbClient.open("/nonexistent/db.sock")).rejects.toThrow(
      /cannot connect to Open vSwitch database at \/nonexistent\/db.sock/,
    );
  });
});
