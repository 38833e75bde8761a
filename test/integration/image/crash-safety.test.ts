import { type ChildProcess, spawn } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importImage, repoGc, resolveImage } from "../../../src/image/index.js";
import { isBlobHash } from "../../../src/image/meta.js";
import { compareImages, readPatternOk, reposIn, run, tempDir, writePattern } from "./helpers.js";

const RUNS = 12;
let dir: string;
let cleanup: () => Promise<void>;
let config: ReturnType<typeof reposIn>;
let child: string;
let original: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("pcocc-image-crash-"));
  config = reposIn(dir);
  child = join(dir, "commit-child.mjs");
  await build({
    entryPoints: [join(import.meta.dirname, "commit-child.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: child,
    logLevel: "error",
  });
  original = join(dir, "orig.raw");
  await run("qemu-img", ["create", "-q", "-f", "raw", original, "128M"]);
  await writePattern(original, "raw", 0x01, "0", "4M");
  await importImage(config, original, "img");
});
afterAll(() => cleanup());

/** A layer with enough data that hashing, syncing and moving it take a while. */
async function newLayer(n: number): Promise<string> {
  const top = (await resolveImage(config, "img")).topPath;
  const layer = join(dir, `layer-${n}.qcow2`);
  await run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", top, layer]);
  await writePattern(layer, "qcow2", 0x10 + n, "8M", "48M");
  return layer;
}

function startCommit(
  layer: string,
  mode = "commit",
): { proc: ChildProcess; ready: Promise<void>; exited: Promise<string> } {
  const proc = spawn(process.execPath, [child, mode, JSON.stringify(config), "img", layer], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let signalReady: () => void;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  proc.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    if (out.includes("ready")) signalReady();
  });
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<string>((resolve) =>
    proc.on("exit", (code, signal) => resolve(`${signal ?? code} ${out.trim()} ${err.trim()}`)),
  );
  return { proc, ready, exited };
}

/** Every revision must open with its whole chain and pass qemu-img check, with the data it was saved with. */
async function checkAllRevisions(revisions: Map<number, number>): Promise<void> {
  const rev0 = await resolveImage(config, "img@0");
  expect(await compareImages(original, rev0.topPath)).toBe(0);
  for (const [rev, pattern] of revisions) {
    const img = await resolveImage(config, `img@${rev}`);
    expect(img.layers).toHaveLength(rev + 1);
    const chain = JSON.parse(
      await run("qemu-img", ["info", "--backing-chain", "--output=json", img.topPath]),
    );
    expect(chain).toHaveLength(rev + 1);
    await run("qemu-img", ["check", "-q", img.topPath]);
    expect(await readPatternOk(img.topPath, pattern, "8M", "48M")).toBe(true);
  }
}

/** Where a killed commit stopped, judged from what it left (for the log: shows the kills spread over the commit). */
async function interruptedStage(revisions: Map<number, number>): Promise<string> {
  const repo = config.repos[0]!.path;
  const referenced = new Set<string>();
  for (const rev of [0, ...revisions.keys()]) {
    for (const h of (await resolveImage(config, `img@${rev}`)).meta.data_blobs) referenced.add(h);
  }
  let orphans = 0;
  for (const prefix of await readdir(join(repo, "data"))) {
    for (const f of await readdir(join(repo, "data", prefix)))
      if (isBlobHash(f) && !referenced.has(f)) orphans++;
  }
  const staging = (await readdir(join(repo, ".tmp"))).length;
  return orphans > 0 ? "blob-stored" : staging > 0 ? "in-staging" : "before-staging";
}

describe("addRevision killed at random points", () => {
  it(`leaves every earlier revision loadable and only garbage gc removes (${RUNS} runs)`, async () => {
    // calibration: an uninterrupted commit tells how long the window to hit is
    const first = startCommit(await newLayer(1));
    await first.ready;
    const t1 = Date.now();
    expect(await first.exited).toMatch(/^0 ready\ndone 1/);
    let window = Math.max(Date.now() - t1, 20);
    const revisions = new Map<number, number>([[1, 0x11]]);
    await checkAllRevisions(revisions);

    let committed = 0;
    let killed = 0;
    const stages: string[] = [];
    let freed = 0;
    for (let n = 2; n < 2 + RUNS; n++) {
      const next = Math.max(...revisions.keys()) + 1;
      const c = startCommit(await newLayer(n));
      await c.ready;
      const started = Date.now();
      // spread kill points over the whole commit, a little past its usual end
      await new Promise((r) => setTimeout(r, Math.random() * window * 1.2));
      c.proc.kill("SIGKILL");
      const status = await c.exited;
      if (status.startsWith("0 ")) {
        committed++;
        // the first commit ran on a cold cache: aim at the duration commits really take
        window = Math.max(Math.min(window, Date.now() - started), 20);
        revisions.set(next, 0x10 + n);
      } else {
        expect(status).toMatch(/^SIGKILL/);
        killed++;
        // a killed commit may still have completed its final link(2): then the revision must be whole
        const done = await resolveImage(config, `img@${next}`).catch(() => undefined);
        if (done) revisions.set(next, 0x10 + n);
        stages.push(done ? "after-meta" : await interruptedStage(revisions));
      }
      expect((await resolveImage(config, "img")).revision).toBe(Math.max(...revisions.keys()));
      await checkAllRevisions(revisions);
      freed += (await repoGc(config, "user")).freedBytes;
      await checkAllRevisions(revisions);
    }
    expect(killed + committed).toBe(RUNS);
    expect(killed).toBeGreaterThan(0);

    // gc (run after each kill) removed everything the interrupted commits left, and nothing that is referenced
    expect(await repoGc(config, "user")).toMatchObject({ blobsDeleted: 0, stagingDeleted: 0 });
    const repo = config.repos[0]!.path;
    expect(await readdir(join(repo, ".tmp"))).toEqual([]);
    const referenced = new Set<string>();
    for (const rev of [0, ...revisions.keys()]) {
      for (const h of (await resolveImage(config, `img@${rev}`)).meta.data_blobs) referenced.add(h);
    }
    const stored: string[] = [];
    for (const prefix of await readdir(join(repo, "data"))) {
      for (const f of await readdir(join(repo, "data", prefix))) if (isBlobHash(f)) stored.push(f);
    }
    expect(stored.sort()).toEqual([...referenced].sort());
    await checkAllRevisions(revisions);
    for (const h of referenced) await stat(join(repo, "data", h.slice(0, 2), h));
    console.log(
      `crash test: ${killed} killed (${stages.join(", ")}), ${committed} completed, gc freed ${freed} bytes`,
    );
  });

  it("a commit that dies between storing its layer and writing the meta file leaves only gc garbage", async () => {
    const before = await resolveImage(config, "img");
    const c = startCommit(await newLayer(40), "orphan");
    const status = await c.exited;
    expect(status).toMatch(/^SIGKILL ready\nstored [0-9a-f]{64}/);
    const orphan = /stored ([0-9a-f]{64})/.exec(status)![1]!;
    const repo = config.repos[0]!.path;
    await stat(join(repo, "data", orphan.slice(0, 2), orphan));
    expect((await resolveImage(config, "img")).revision).toBe(before.revision);
    await run("qemu-img", ["check", "-q", before.topPath]);
    const gc = await repoGc(config, "user");
    expect(gc).toMatchObject({ blobsDeleted: 1, stagingDeleted: 1 });
    await expect(stat(join(repo, "data", orphan.slice(0, 2), orphan))).rejects.toThrow();
    expect(await readdir(join(repo, ".tmp"))).toEqual([]);
    await run("qemu-img", ["check", "-q", (await resolveImage(config, "img")).topPath]);
  });
});
