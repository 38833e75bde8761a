import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { withNodeLock } from "../../../src/net/records.js";

/*
 * The node-wide setup lock is a real flock (native addon) on a file in the run directory. Concurrent
 * holders, in one process and across processes, must never overlap, and a holder killed with SIGKILL must
 * not need a takeover (the old pid-file takeover let two setups in when two waiters saw the same dead pid).
 */
const records = join(import.meta.dirname, "..", "..", "..", "dist", "net", "records.js");
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "pcocc-lock-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A child process that takes the lock, logs enter/exit around `holdMs`, and exits. */
function holder(log: string, holdMs: number, tag: string): Promise<number> {
  const code = `
    import { appendFileSync } from "node:fs";
    const { withNodeLock } = await import(${JSON.stringify(records)});
    await withNodeLock(${JSON.stringify(dir)}, async () => {
      appendFileSync(${JSON.stringify(log)}, "enter ${tag}\\n");
      await new Promise((r) => setTimeout(r, ${holdMs}));
      appendFileSync(${JSON.stringify(log)}, "exit ${tag}\\n");
    });`;
  const p = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: "inherit" });
  return new Promise((resolve) => p.on("exit", (c) => resolve(c ?? 1)));
}

function neverOverlaps(lines: string[]): void {
  expect(lines.length % 2).toBe(0);
  for (let i = 0; i < lines.length; i += 2) {
    expect(lines[i]).toMatch(/^enter /);
    expect(lines[i + 1]).toBe(lines[i]!.replace("enter", "exit"));
  }
}

describe("withNodeLock", () => {
  it("lets one holder in at a time, in one process", async () => {
    const log: string[] = [];
    await Promise.all(
      ["a", "b", "c", "d"].map((t) =>
        withNodeLock(dir, async () => {
          log.push(`enter ${t}`);
          await new Promise((r) => setTimeout(r, 30));
          log.push(`exit ${t}`);
        }),
      ),
    );
    expect(log).toHaveLength(8);
    neverOverlaps(log);
  });

  it("lets one process in at a time even when the lock file names a dead owner", async () => {
    // what the old lock left after a crash: a pid that no longer runs
    await writeFile(join(dir, "net-setup.lock"), "999999999");
    const log = join(dir, "log");
    await writeFile(log, "");
    const codes = await Promise.all(["p1", "p2", "p3", "p4", "p5"].map((t) => holder(log, 150, t)));
    expect(codes).toEqual([0, 0, 0, 0, 0]);
    const lines = (await readFile(log, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(10);
    neverOverlaps(lines);
  });

  it("is free again as soon as a holder is killed with SIGKILL", async () => {
    const code = `
      const { withNodeLock } = await import(${JSON.stringify(records)});
      await withNodeLock(${JSON.stringify(dir)}, async () => { console.log("held"); setInterval(() => {}, 1000); await new Promise(() => {}); });`;
    const p = spawn(process.execPath, ["--input-type=module", "-e", code], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) => p.stdout!.once("data", () => resolve()));
    let entered = false;
    const waiting = withNodeLock(dir, async () => {
      entered = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(entered).toBe(false);
    p.kill("SIGKILL");
    await waiting;
    expect(entered).toBe(true);
  });
});
