import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { makeConfigDirs } from "../config/fixture.js";
import { runPcocc } from "./run-pcocc.js";

// each case spawns the real CLI, which takes seconds on a loaded machine
vi.setConfig({ testTimeout: 120_000 });

const work = mkdtempSync(join(tmpdir(), "pcocc-errors-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const bin = join(work, "bin");
mkdirSync(bin);
// a SLURM with no jobs at all: the default-job guess finds nothing
writeFileSync(join(bin, "squeue"), "#!/bin/sh\nexit 0\n");
chmodSync(join(bin, "squeue"), 0o755);

const pcocc = (args: string[], cacheDir = join(work, "cache")) =>
  runPcocc(
    args,
    { ...makeConfigDirs(), cacheDir, extra: { PATH: `${bin}:${process.env.PATH ?? ""}` } },
    { timeoutMs: 60_000 },
  );

describe("pcocc's error contract", () => {
  it("usage errors: one 'pcocc:' line, status 2", async () => {
    const unknownOption = await pcocc(["ps", "--frob"]);
    expect([unknownOption.status, unknownOption.stderr]).toEqual([2, "pcocc: unknown option '--frob'\n"]);
    const unknownVerb = await pcocc(["frob"]);
    expect([unknownVerb.status, unknownVerb.stderr]).toEqual([2, "pcocc: unknown command 'frob'\n"]);
  });
  it("pcocc verbs this version lacks say so", async () => {
    for (const verb of [
      ["docker", "alloc"],
      ["image", "cache", "list"],
    ]) {
      const r = await pcocc(verb);
      const name = verb[0] === "image" ? "image cache" : verb[0];
      expect([r.status, r.stderr]).toEqual([
        255,
        `pcocc: 'pcocc ${name}' is not available in this version\n`,
      ]);
    }
  });
  it("pcocc run refuses its container and host options, and bad counts, before looking for a job", async () => {
    for (const [args, line] of [
      [["-I", "img", "hostname"], "'pcocc run -I/--image' is not available in this version"],
      [["-M", "gcc", "hostname"], "'pcocc run -M/--module' is not available in this version"],
      [["-s", "hostname"], "'pcocc run -s/--singleton' is not available in this version"],
      [
        ["--pty", "-n", "2", "sh"],
        "--pty: a terminal is for one process, 2 would run (choose one VM, or -n 1)",
      ],
      [["-n", "0", "hostname"], "-n 0: expected a whole number of at least 1"],
      [["-c", "x", "hostname"], "-c x: expected a whole number of at least 1"],
      [["-e", "1X=2", "hostname"], "-e 1X=2: expected VAR, VAR=VALUE or re(REGEX) with a variable name"],
      [["-w", "node1", "hostname"], "invalid vm name node1"],
    ] as const) {
      const r = await pcocc(["run", ...args]);
      expect([r.status, r.stderr]).toEqual([255, `pcocc: ${line}\n`]);
    }
  });
  it("agent attach names a bad command id before looking for a job", async () => {
    const r = await pcocc(["agent", "attach", "x1"]);
    expect([r.status, r.stderr]).toEqual([
      255,
      "pcocc: attach: x1: expected a command id as 'pcocc agent listexec' shows it\n",
    ]);
  });
  it("outside a job, a per-cluster verb says how to name or start one", async () => {
    const r = await pcocc(["reset", "vm0"]);
    expect(r.stderr).toBe(
      "pcocc: The target job was neither specified nor implied and none of your jobs is named pcocc: " +
        "name one with -j JOBID or -J NAME (see pcocc ps), or start one with pcocc alloc\n",
    );
    expect(r.status).toBe(255);
  });
  it("--help into a pipe closed early prints no stack trace (20 runs)", () => {
    const pcoccBin = join(import.meta.dirname, "..", "..", "..", "bin", "pcocc");
    const r = spawnSync(
      "bash",
      ["-c", `for i in $(seq 20); do "${process.execPath}" "${pcoccBin}" alloc --help | head -1; done`],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n").filter((l) => l !== "")).toEqual(
      Array.from({ length: 20 }, () => expect.stringMatching(/^Usage: pcocc alloc /)),
    );
  });
  it("an unusable XDG_CACHE_HOME (under /proc, a file, missing parents) costs the cache, never a hang", async () => {
    const file = join(work, "a-file");
    writeFileSync(file, "");
    for (const cacheDir of ["/proc/self/nope", "/proc", file, join(work, "deep", "er")]) {
      const r = await pcocc(["template", "list", "--json"], cacheDir);
      expect([cacheDir, r.status, r.stderr, r.stdout]).toEqual([cacheDir, 0, "", "[]\n"]);
    }
    expect(readdirSync(join(work, "deep", "er", "pcocc"))).toEqual([
      expect.stringMatching(/^config-.*\.json$/),
    ]);
  });
});
