import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { RelayLink, serveRelay } from "../../../src/agent/relay.js";

/** A relay between two pipes, serving one echoing unix socket (vm0) and a VM it cannot reach (vm1). */
describe("agent relay", () => {
  let dir: string;
  let server: Server;
  const closedByServer: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pcocc-relay-"));
    server = createServer((s) => {
      s.pipe(s);
      s.on("close", () => closedByServer.push("vm0"));
    });
    await new Promise<void>((r) => server.listen(join(dir, "vm0.sock"), r));
  });
  afterAll(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("carries a VM's bytes both ways, reports the unreachable one and closes everything at the end", async () => {
    const toRelay = new PassThrough();
    const fromRelay = new PassThrough();
    const served = serveRelay(toRelay, fromRelay, [
      { rank: 0, socketPath: join(dir, "vm0.sock") },
      { rank: 1, error: "vm1 is not running" },
    ]);
    const link = new RelayLink(toRelay, fromRelay, [0, 1]);
    const vm0 = link.stream(0);
    const vm1 = link.stream(1);
    const vm1Error = new Promise<Error>((r) => vm1.once("error", r));
    await new Promise((r) => vm0.once("ready", r));
    const big = Buffer.alloc(600 << 10, 7); // more than one relay frame
    const got: Buffer[] = [];
    const echoed = new Promise<void>((resolve) =>
      vm0.on("data", (d: Buffer) => {
        got.push(d);
        if (Buffer.concat(got).length >= big.length) resolve();
      }),
    );
    vm0.write(big);
    await echoed;
    expect(Buffer.concat(got).equals(big)).toBe(true);
    expect((await vm1Error).message).toBe("vm1 is not running");
    link.end();
    await served;
    await vi.waitFor(() => expect(closedByServer).toEqual(["vm0"]));
  });
});
