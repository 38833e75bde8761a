import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import {
  FrameDecoder,
  ProtocolError,
  decodeGuest,
  decodeHost,
  encodeGuest,
  encodeHost,
  type GuestMessage,
  type HostMessage,
} from "../../../src/agent/protocol.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const vectors = new Map(
  readFileSync(join(ROOT, "guest-agent/vectors.txt"), "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(" ") as [string, string]),
);

const guest: Record<string, GuestMessage> = {
  pong: { type: "pong", id: 0, version: "pcocc-agent 2", hostname: "vm0", cpus: 2 },
  output: { type: "output", id: 7, stream: 1, data: Buffer.from("one\n") },
  "exited-code": { type: "exited", id: 7, code: 3 },
  "exited-signal": { type: "exited", id: 8, signal: 9 },
  "ok-value": { type: "ok", id: 7, value: 1234 },
  error: { type: "error", id: 3, message: "no" },
  execs: { type: "execs", id: 5, execs: [{ id: 7, pid: 42, exited: false, command: "sleep" }] },
  detached: { type: "detached", id: 7 },
};
const host: Record<string, HostMessage> = {
  exec: {
    type: "exec",
    id: 7,
    stdin: true,
    user: "root",
    cwd: "/",
    argv: ["sh", "-c", "echo hi"],
    env: ["A=1"],
  },
  signal: { type: "signal", id: 7, signal: 2 },
  "file-open": { type: "file-open", id: 9, path: "/tmp/f", mode: 0o640 },
  "exec-pty-cpus": {
    type: "exec",
    id: 8,
    stdin: false,
    user: "",
    cwd: "",
    argv: ["tty"],
    env: [],
    pty: { rows: 24, cols: 80 },
    cpus: [0, 3],
  },
  attach: { type: "attach", id: 9, execId: 0x1000007 },
  resize: { type: "resize", id: 9, rows: 50, cols: 132 },
  abort: { type: "abort", id: 9 },
};

function frameOf(hex: string): { type: number; id: number; payload: Buffer } {
  const [f] = new FrameDecoder().push(Buffer.from(hex, "hex"));
  return f!;
}

describe("agent protocol", () => {
  it("encodes and decodes the shared byte vectors both ways", () => {
    for (const [name, msg] of Object.entries(guest)) {
      expect(encodeGuest(msg).toString("hex"), name).toBe(vectors.get(name));
      expect(decodeGuest(frameOf(vectors.get(name)!)), name).toEqual(msg);
    }
    for (const [name, msg] of Object.entries(host)) {
      expect(encodeHost(msg).toString("hex"), name).toBe(vectors.get(name));
      expect(decodeHost(frameOf(vectors.get(name)!)), name).toEqual(msg);
    }
  });

  it("reassembles frames split at any byte and refuses lengths outside the bounds", () => {
    const bytes = Buffer.concat([encodeGuest(guest.output!), encodeGuest(guest["exited-code"]!)]);
    const d = new FrameDecoder();
    const got = [...bytes].flatMap((b) => d.push(Buffer.from([b]))).map(decodeGuest);
    expect(got).toEqual([guest.output, guest["exited-code"]]);
    expect(() => new FrameDecoder().push(Buffer.from("0020000080000000", "hex"))).toThrow(ProtocolError);
    expect(() => new FrameDecoder().push(Buffer.from("000000030000000000", "hex"))).toThrow(
      /bad frame length 3/,
    );
    expect(() => decodeGuest({ type: 0x85, id: 1, payload: Buffer.from([0]) })).toThrow(/truncated/);
    expect(() =>
      encodeHost({ type: "exec", id: 1, stdin: false, user: "a\0b", cwd: "", argv: ["x"], env: [] }),
    ).toThrow(/NUL/);
  });

  it("the C agent's encoder and decoder agree with the same vectors", async () => {
    const r = await promisify(execFile)("make", ["-s", "-C", join(ROOT, "guest-agent"), "test"]);
    expect(r.stdout).toMatch(/^ok: 15 vectors$/m);
  });
});
