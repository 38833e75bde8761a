import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeHost, encodeGuest, FrameDecoder, type HostMessage } from "../../../src/agent/protocol.js";
import { freezeGuest } from "../../../src/vm/guest-freeze.js";

/** A stand-in agent on a unix socket: says hello, answers freeze/thaw, records what it was asked. */
function fakeAgent(path: string, seen: string[]): Promise<Server> {
  const server = createServer((s: Socket) => {
    const decoder = new FrameDecoder();
    s.write(encodeGuest({ type: "pong", id: 0, version: "pcocc-agent 2", hostname: "vm0", cpus: 1 }));
    s.on("data", (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        const m: HostMessage = decodeHost(f);
        seen.push(m.type === "freeze" ? `freeze ${m.timeoutS}` : m.type);
        if (m.type === "freeze") s.write(encodeGuest({ type: "ok", id: m.id, value: 2 }));
        if (m.type === "thaw") s.write(encodeGuest({ type: "ok", id: m.id, value: 2 }));
        if (m.type === "ping")
          s.write(
            encodeGuest({ type: "pong", id: m.id, version: "pcocc-agent 2", hostname: "vm0", cpus: 1 }),
          );
      }
    });
    s.on("close", () => seen.push("closed"));
  });
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

describe("freezeGuest", () => {
  let dir: string;
  let server: Server;
  const seen: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pcocc-freeze-"));
    server = await fakeAgent(join(dir, "agent.sock"), seen);
  });
  afterAll(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("freezes with the agent's backstop, thaws once however often asked, then hangs up", async () => {
    const warnings: string[] = [];
    const vm = { name: "vm0", paths: { agentSocket: join(dir, "agent.sock") } };
    const guest = await freezeGuest({ vm, otherwise: "going on", warn: (l) => warnings.push(l) });
    expect(guest.frozen).toBe(2);
    await guest.thaw();
    await guest.thaw();
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.filter((s) => s !== "ping")).toEqual(["freeze 60", "thaw", "closed"]);
    expect(warnings).toEqual([]);
  });

  it("an unreachable agent gives one warning naming the VM, and nothing to thaw", async () => {
    const warnings: string[] = [];
    const vm = { name: "vm3", paths: { agentSocket: join(dir, "none.sock") } };
    const guest = await freezeGuest({ vm, otherwise: "saving it unfrozen", warn: (l) => warnings.push(l) });
    expect(guest.frozen).toBe(0);
    await guest.thaw();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^warning: vm3: cannot reach the guest agent at .*none\.sock: .*; saving it unfrozen$/,
    );
  });
});
