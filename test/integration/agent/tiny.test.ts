import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { connectAgent, type AgentClient } from "../../../src/agent/index.js";
import { guests, startVm, stopVm, tinySpec, waitForConsole, type RunningVm } from "../vm/support.js";
import { agentOf, agentSocket, run } from "./support.js";

describe("guest agent on the tiny guest (seed delivery, virtio-serial)", () => {
  let work: string;
  let stateDir: string;
  let vm: RunningVm | undefined;
  let agent: AgentClient;

  beforeAll(async () => {
    const g = await guests();
    work = await mkdtemp(join(tmpdir(), "pcocc-agent-"));
    stateDir = join(work, "vm4");
    vm = await startVm(
      tinySpec(g, {
        rank: 4,
        hostname: "agent-vm4",
        stateDir,
        imagePath: g.tiny.disk,
      }),
    );
    agent = await agentOf(vm, stateDir, "vm4");
    await waitForConsole(vm, /pcocc-guest: ready hostname=agent-vm4/);
  });
  afterAll(async () => {
    agent?.close();
    await import("node:fs/promises")
      .then((f) => f.copyFile(join(stateDir, "console.log"), "/tmp/agent-tiny-console.log"))
      .catch(() => undefined);
    await stopVm(vm);
    await rm(work, { recursive: true, force: true });
  });

  it("answers ping with the guest's hostname", async () => {
    expect(await agent.ping()).toEqual({ version: "pcocc-agent 2", hostname: "agent-vm4", cpus: 1 });
  });

  it("streams output as it is produced", async () => {
    const seen: Array<{ line: string; at: number }> = [];
    const e = await agent.exec({
      argv: ["sh", "-c", "echo one; sleep 3; echo two"],
      onStdout: (d) => {
        for (const line of d.toString().split("\n").filter(Boolean)) seen.push({ line, at: Date.now() });
      },
    });
    expect(await e.result).toEqual({ code: 0 });
    expect(seen.map((s) => s.line)).toEqual(["one", "two"]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThan(2000);
  });

  it("forwards stdin, reports exit codes and names what cannot start", async () => {
    const out: string[] = [];
    const e = await agent.exec({ argv: ["cat"], stdin: true, onStdout: (d) => out.push(d.toString()) });
    e.write("hi\n");
    e.end();
    expect(await e.result).toEqual({ code: 0 });
    expect(out.join("")).toBe("hi\n");
    expect((await run(agent, ["sh", "-c", "echo err >&2; exit 3"])).result).toEqual({ code: 3 });
    expect((await run(agent, ["sh", "-c", "echo err >&2"])).stderr).toBe("err\n");
    await expect(agent.exec({ argv: ["no-such-command"] })).rejects.toThrow(
      /vm4: no-such-command: No such file/,
    );
    await expect(agent.exec({ argv: ["id"], user: "nobody-here" })).rejects.toThrow(
      /unknown user nobody-here/,
    );
  });

  it("runs as the requested user in their home, with extra environment", async () => {
    const r = await run(agent, ["sh", "-c", 'echo "$(id -u) $(pwd) $X"'], { user: "debian", env: ["X=42"] });
    expect(r.stdout).toBe("1000 /home/debian 42\n");
  });

  it("kills a command's process group with a signal and leaves nothing running", async () => {
    const e = await agent.exec({ argv: ["sh", "-c", "sleep 100 & sleep 101; wait"] });
    expect((await agent.listExec()).map((x) => x.pid)).toContain(e.pid);
    await e.kill("SIGINT");
    expect(await e.result).toEqual({ signal: 2 });
    expect(await agent.listExec()).toEqual([]);
    const ps = await run(agent, ["ps"]);
    expect(ps.stdout).not.toMatch(/sleep 10[01]/);
  });

  it("writes a file with its mode and content, atomically", async () => {
    const content = Buffer.alloc(200_000, "x");
    content.write("start", 0);
    await agent.writeFile("/root/written.txt", content, 0o640);
    const r = await run(agent, ["sh", "-c", "stat -c %a /root/written.txt; md5sum </root/written.txt"]);
    const { createHash } = await import("node:crypto");
    expect(r.stdout).toBe(`640\n${createHash("md5").update(content).digest("hex")}  -\n`);
    await expect(agent.writeFile("/no-such-dir/f", Buffer.from("x"))).rejects.toThrow(
      /writefile \/no-such-dir\/f/,
    );
  });

  it("freezes the data disk, and thaws it at the freeze timeout by itself", async () => {
    // the root is an initramfs (not freezable); the tiny guest's /data is ext4 on a virtio disk
    expect(await agent.freeze(2)).toBe(1);
    const started = Date.now();
    const w = await run(agent, ["sh", "-c", "echo x > /data/after-freeze && sync && cat /data/after-freeze"]);
    expect(w.stdout).toBe("x\n");
    expect(Date.now() - started).toBeGreaterThan(1000); // blocked until the agent thawed by itself
    expect(await agent.thaw()).toBe(0);
    expect(await agent.freeze(60)).toBe(1);
    expect(await agent.thaw()).toBe(1);
  });

  it("thaws when the client that froze goes away, and serves a client that reconnects", async () => {
    expect(await agent.freeze(600)).toBe(1);
    agent.close(); // the hypervisor's multiplexer thaws what a vanished client left frozen
    const { client, hello } = await connectAgent(agentSocket(stateDir), { vm: "vm4", timeoutMs: 30_000 });
    agent = client;
    expect(hello.hostname).toBe("agent-vm4");
    expect((await run(agent, ["hostname"])).stdout).toBe("agent-vm4\n");
    expect(await agent.thaw()).toBe(0); // nothing is frozen any more: the disconnect thawed /data
    expect((await run(agent, ["sh", "-c", "echo y > /data/after-disconnect && sync"])).result).toEqual({
      code: 0,
    });
  });

  it("serves several host clients at once, each with its own output", async () => {
    const { client: other } = await connectAgent(agentSocket(stateDir), { vm: "vm4", timeoutMs: 30_000 });
    try {
      const script = (tag: string) => ["sh", "-c", `echo ${tag}1; sleep 2; echo ${tag}2`];
      const started = Date.now();
      const [a, b] = await Promise.all([run(agent, script("a")), run(other, script("b"))]);
      expect([a.stdout, b.stdout]).toEqual(["a1\na2\n", "b1\nb2\n"]);
      expect(Date.now() - started).toBeLessThan(3900); // both ran at once, not one after the other
      const long = await other.exec({ argv: ["sleep", "30"] });
      expect((await agent.listExec()).map((e) => e.command)).toContain("sleep");
      await long.kill("SIGKILL");
      expect(await long.result).toEqual({ signal: 9 });
    } finally {
      other.close();
    }
  });

  it("removes the half-written file of a client that disconnects in the middle of a writefile", async () => {
    const { connect } = await import("node:net");
    const { encodeHost } = await import("../../../src/agent/protocol.js");
    await run(agent, ["mkdir", "-p", "/root/wf"]);
    const raw = connect(agentSocket(stateDir));
    await new Promise((r) => raw.once("data", r)); // the multiplexer's hello: the agent is up
    raw.write(encodeHost({ type: "file-open", id: 1, path: "/root/wf/target", mode: 0o644 }));
    raw.write(encodeHost({ type: "file-data", id: 1, data: Buffer.alloc(4096, "y") }));
    const listing = async () => (await run(agent, ["ls", "-a", "/root/wf"])).stdout.split("\n");
    await vi.waitFor(
      async () => expect((await listing()).some((f) => f.startsWith(".pcocc-agent-"))).toBe(true),
      {
        timeout: 20_000,
      },
    );
    raw.destroy();
    await vi.waitFor(async () => expect(await listing()).toEqual([".", "..", ""]), { timeout: 20_000 });
  });

  it("attaches to a running command from another client: its output, stdin and exit move there", async () => {
    const first = await agent.exec({ argv: ["sh", "-c", "read x; echo got $x; exit 4"], stdin: true });
    const { client: other } = await connectAgent(agentSocket(stateDir), { vm: "vm4", timeoutMs: 30_000 });
    try {
      // listexec shows the guest side's ids, valid from any client
      const target = (await other.listExec()).find((e) => e.pid === first.pid)!;
      let out = "";
      const att = await other.attach(target.id, { onStdout: (d) => (out += d.toString()) });
      expect(att.pid).toBe(first.pid);
      await expect(first.result).rejects.toThrow(/vm4: another client attached to the command/);
      att.write("hi\n");
      expect(await att.result).toEqual({ code: 4 });
      expect(out).toBe("got hi\n");
      await expect(other.attach(target.id, {})).rejects.toThrow(/attach: no command with id/);
    } finally {
      other.close();
    }
  });

  it("runs a command in a terminal: tty names /dev/pts/N, its size is set, Ctrl-C interrupts it", async () => {
    const r = await run(agent, ["sh", "-c", "tty; stty size; echo err >&2"], {
      pty: { rows: 33, cols: 101 },
    });
    expect(r.stdout.replace(/\r/g, "")).toMatch(/^\/dev\/pts\/\d+\n33 101\nerr\n$/);
    expect(r.result).toEqual({ code: 0 });
    let seen = "";
    const cat = await agent.exec({
      argv: ["cat"],
      pty: { rows: 24, cols: 80 },
      onStdout: (d) => (seen += d),
    });
    cat.write("typed\r");
    await vi.waitFor(() => expect(seen).toContain("typed\r\n"), { timeout: 20_000 });
    cat.write("\x03"); // the terminal's interrupt character, as a host terminal in raw mode sends it
    expect(await cat.result).toEqual({ signal: 2 });
  });

  it("pins a command to the CPUs it is given, and names a CPU the guest does not have", async () => {
    const r = await run(agent, ["sh", "-c", "grep Cpus_allowed_list /proc/self/status"], { cpus: [0] });
    expect(r.stdout).toMatch(/^Cpus_allowed_list:\s+0\n$/);
    await expect(agent.exec({ argv: ["true"], cpus: [63] })).rejects.toThrow(
      /vm4: sched_setaffinity: Invalid argument/,
    );
  });
});
