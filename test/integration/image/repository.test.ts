import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addRevision,
  copyImage,
  deleteImage,
  exportImage,
  importImage,
  listImageNames,
  listImages,
  prepareSaveTarget,
  repoGc,
  repoList,
  resizeImage,
  resolveImage,
  showImage,
} from "../../../src/image/index.js";
import { compareImages, readPatternOk, reposIn, run, tempDir, writePattern } from "./helpers.js";

let dir: string;
let cleanup: () => Promise<void>;
let config: ReturnType<typeof reposIn>;
let rawSrc: string;
let qcowSrc: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("pcocc-image-"));
  config = reposIn(dir);
  rawSrc = join(dir, "src.raw");
  await run("qemu-img", ["create", "-q", "-f", "raw", rawSrc, "64M"]);
  await writePattern(rawSrc, "raw", 0xab, "0", "1M");
  await writePattern(rawSrc, "raw", 0xcd, "32M", "512k");
  qcowSrc = join(dir, "src.qcow2");
  await run("qemu-img", ["create", "-q", "-f", "qcow2", qcowSrc, "32M"]);
  await writePattern(qcowSrc, "qcow2", 0x11, "4M", "2M");
});
afterAll(() => cleanup());

async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/** A qcow2 layer on top of an image, as `pcocc save` produces it (absolute backing path). */
async function makeLayer(top: string, pattern: number, offset: string): Promise<string> {
  const layer = join(dir, `layer-${pattern}.qcow2`);
  await run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", top, layer]);
  await writePattern(layer, "qcow2", pattern, offset, "1M");
  return layer;
}

describe("image repositories with real qemu-img", () => {
  it("does not create repositories on reads", async () => {
    expect(await listImageNames(config)).toEqual([]);
    expect((await listImages(config)).map((r) => r.images)).toEqual([[], []]);
    await expect(stat(config.repos[0]!.path)).rejects.toThrow();
    expect(await repoList(config)).toEqual([
      { name: "user", path: config.repos[0]!.path, writable: null },
      { name: "global", path: config.repos[1]!.path, writable: null },
    ]);
  });

  it("imports a raw image into the first repository, content-addressed and read-only", async () => {
    const r = await importImage(config, rawSrc, "base");
    expect(r).toEqual({ uri: "user:base@0", format: "raw", alsoIn: [] });
    const img = await resolveImage(config, "base");
    expect(img).toMatchObject({ repo: "user", name: "base", revision: 0, kind: "vm" });
    expect(img.layers).toHaveLength(1);
    expect(await sha256(img.topPath)).toBe(img.meta.data_blobs[0]);
    expect(dirname(img.topPath)).toBe(
      join(config.repos[0]!.path, "data", img.meta.data_blobs[0]!.slice(0, 2)),
    );
    expect((await stat(img.topPath)).mode & 0o777).toBe(0o444);
    const info = JSON.parse(await run("qemu-img", ["info", "--output=json", img.topPath]));
    expect(info.format).toBe("qcow2");
    expect(await readFile(join(config.repos[0]!.path, ".config"), "utf8")).toMatch(/version: 2/);
    expect(await readdir(join(config.repos[0]!.path, ".tmp"))).toEqual([]);
  });

  it("exports raw back content-identical", async () => {
    const out = join(dir, "out.raw");
    await exportImage(config, "base", out);
    expect(await compareImages(rawSrc, out)).toBe(0);
    await expect(exportImage(config, "base", out)).rejects.toThrow(/already exists/);
  });

  it("imports qcow2 into a named repository, checking -t against the detected format", async () => {
    await expect(importImage(config, qcowSrc, "global:q", { format: "raw" })).rejects.toThrow(
      "Mismatch between specified format raw and detected image type qcow2",
    );
    expect((await importImage(config, qcowSrc, "global:q", { format: "qcow2" })).uri).toBe("global:q@0");
    await expect(importImage(config, `raw:${qcowSrc}`, "global:q2")).rejects.toThrow(/Mismatch/);
    expect((await importImage(config, `qcow2:${qcowSrc}`, "global:q2")).uri).toBe("global:q2@0");
    await deleteImage(config, "global:q2");
    const out = join(dir, "q-out.qcow2");
    await exportImage(config, "global:q", out, { format: "qcow2" });
    expect(await compareImages(qcowSrc, out)).toBe(0);
  });

  it("refuses to overwrite and reports clear errors", async () => {
    await expect(importImage(config, rawSrc, "base")).rejects.toThrow(
      "Image base already exists in repo user",
    );
    await expect(importImage(config, join(dir, "nope"), "x")).rejects.toThrow(/does not exist/);
    await expect(importImage(config, rawSrc, "x@1")).rejects.toThrow(/must not name a revision/);
    await expect(importImage(config, rawSrc, "nope:x")).rejects.toThrow(/Unknown repository 'nope'/);
    await expect(resolveImage(config, "base@7")).rejects.toThrow(
      "Image base revision 7 not found in any configured repository",
    );
    await expect(resolveImage(config, "global:base")).rejects.toThrow(
      "Image base not found in repository global",
    );
    const warn = await importImage(config, rawSrc, "global:base");
    expect(warn.alsoIn).toEqual(["user"]);
    // user repos come first: the unqualified name still means user:base
    expect((await resolveImage(config, "base")).repo).toBe("user");
    await deleteImage(config, "global:base");
  });

  it("commits a saved layer as the next revision with a relative backing file", async () => {
    const base = await resolveImage(config, "base");
    const layer = await makeLayer(base.topPath, 0x77, "8M");
    const reference = join(dir, "ref-rev1.raw");
    await run("qemu-img", ["convert", "-O", "raw", layer, reference]);
    const rev = await addRevision(config, "base", layer);
    expect(rev).toMatchObject({ repo: "user", name: "base", revision: 1, uri: "user:base@1" });
    await expect(stat(layer)).rejects.toThrow(); // taken over
    const img = await resolveImage(config, "base");
    expect(img.revision).toBe(1);
    expect(img.meta.data_blobs).toEqual([...base.meta.data_blobs, img.meta.data_blobs[1]]);
    const info = JSON.parse(await run("qemu-img", ["info", "--output=json", img.topPath]));
    expect(info["backing-filename"]).toBe(
      `../../data/${base.meta.data_blobs[0]!.slice(0, 2)}/${base.meta.data_blobs[0]}`,
    );
    expect(await sha256(img.topPath)).toBe(img.meta.data_blobs[1]);
    const out = join(dir, "rev1.raw");
    await exportImage(config, "base@1", out);
    expect(await compareImages(reference, out)).toBe(0);
    const out0 = join(dir, "rev0.raw");
    await exportImage(config, "base@0", out0);
    expect(await compareImages(rawSrc, out0)).toBe(0);
    // the layer holds only the delta
    expect((await lstat(img.topPath)).size).toBeLessThan((await lstat(base.topPath)).size);
  });

  it("rebases a layer whose backing is another copy of the top, and commits full revisions", async () => {
    const img = await resolveImage(config, "base");
    const flat = join(dir, "flat.qcow2");
    await run("qemu-img", ["convert", "-O", "qcow2", img.topPath, flat]);
    const layer = await makeLayer(flat, 0x55, "16M");
    const rev2 = await addRevision(config, "base", layer);
    expect(rev2.revision).toBe(2);
    const chain = await run("qemu-img", ["info", "--backing-chain", "--output=json", rev2.topPath]);
    expect(JSON.parse(chain)).toHaveLength(3);
    expect(await readPatternOk(rev2.topPath, 0x55, "16M", "1M")).toBe(true);
    expect(await readPatternOk(rev2.topPath, 0x77, "8M", "1M")).toBe(true);

    const fullSrc = join(dir, "full.qcow2");
    await run("qemu-img", ["convert", "-O", "qcow2", rev2.topPath, fullSrc]);
    await expect(
      addRevision(config, "base", await makeLayer(rev2.topPath, 1, "0"), { full: true }),
    ).rejects.toThrow(/must be standalone/);
    const rev3 = await addRevision(config, "base", fullSrc, { full: true });
    const img3 = await resolveImage(config, "base@3");
    expect(rev3.revision).toBe(3);
    expect(img3.layers).toHaveLength(1);
    expect(await compareImages(rev2.topPath, img3.topPath)).toBe(0);

    const toDest = join(dir, "todest.qcow2");
    await run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", img3.topPath, toDest]);
    const copy = await addRevision(config, "base", toDest, { dest: "global:derived" });
    expect(copy).toMatchObject({ repo: "global", name: "derived", revision: 0 });
    const derived = await resolveImage(config, "global:derived");
    expect(derived.layers.every((l) => l.startsWith(config.repos[1]!.path))).toBe(true);
    await run("qemu-img", ["check", "-q", derived.topPath]);
  });

  it("gives save a live staging target that gc keeps, and numbers concurrent commits consecutively", async () => {
    const target = await prepareSaveTarget(config, "base");
    expect(dirname(dirname(target.path))).toBe(join(config.repos[0]!.path, ".tmp"));
    const top = (await resolveImage(config, "base")).topPath;
    await run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", top, target.path]);
    await writePattern(target.path, "qcow2", 0x66, "20M", "1M");
    expect(await repoGc(config, "user")).toMatchObject({ stagingDeleted: 0 });
    await stat(target.path);
    const other = await makeLayer(top, 0x67, "21M");
    const [a, b] = await Promise.all([
      addRevision(config, "base", target.path),
      addRevision(config, "base", other),
    ]);
    await target.release();
    expect([a.revision, b.revision].sort()).toEqual([4, 5]);
    // each is its own save on top of revision 3, not on top of the other
    expect(await readPatternOk(a.topPath, 0x66, "20M", "1M")).toBe(true);
    expect(await readPatternOk(b.topPath, 0x67, "21M", "1M")).toBe(true);
    expect((await resolveImage(config, `base@${a.revision}`)).layers).toHaveLength(2);
  });

  it("resizes with a new layer and refuses to shrink", async () => {
    await expect(resizeImage(config, "base", "32M")).rejects.toThrow(/not larger/);
    const r = await resizeImage(config, "base", "128M");
    expect(r.revision).toBe(6);
    const info = JSON.parse(await run("qemu-img", ["info", "--output=json", r.topPath]));
    expect(info["virtual-size"]).toBe(128 * 2 ** 20);
    expect(await readPatternOk(r.topPath, 0x55, "16M", "1M")).toBe(true);
  });

  it("lists and shows images", async () => {
    const lists = await listImages(config);
    expect(lists.map((l) => l.images.map((i) => `${i.repo}:${i.name}@${i.revision}`))).toEqual([
      ["user:base@6"],
      ["global:derived@0", "global:q@0"],
    ]);
    expect(
      (await listImages(config, { pattern: "^q", repo: "global" }))[0]!.images.map((i) => i.name),
    ).toEqual(["q"]);
    await expect(listImages(config, { pattern: "(" })).rejects.toThrow(/Invalid regular expression/);
    const show = await showImage(config, "base@1");
    expect(show).toMatchObject({ uri: "user:base@1", revision: 1, layers: 2 });
    expect(show.revisions.map((r) => r.revision)).toEqual([6, 5, 4, 3, 2, 1, 0]);
    expect(await listImageNames(config)).toEqual([
      { repo: "user", name: "base" },
      { repo: "global", name: "derived" },
      { repo: "global", name: "q" },
    ]);
  });

  it("delete + repo gc frees unreferenced layers only", async () => {
    expect(await copyImage(config, "base@1", "kept")).toBe("user:kept@0");
    const kept = await resolveImage(config, "kept");
    const all = await resolveImage(config, "base@6");
    const rev2 = await resolveImage(config, "base@2");
    const rev3 = await resolveImage(config, "base@3");
    // a leftover of a dead commit and one of a live one (this process)
    const tmp = join(config.repos[0]!.path, ".tmp");
    await mkdir(join(tmp, "999999999.1.ab.deadhost"));
    await writeFile(join(tmp, "999999999.1.ab.deadhost", "layer"), Buffer.alloc(8192, 1));
    const live = join(tmp, `${process.pid}.${Date.now()}.ab.${(await import("node:os")).hostname()}`);
    await mkdir(live);
    await writeFile(join(tmp, "tmpabcd"), "x");

    expect(await deleteImage(config, "base@2")).toEqual({ repo: "user", revisions: [2] });
    expect(await deleteImage(config, "base")).toEqual({ repo: "user", revisions: [0, 1, 3, 4, 5, 6] });
    await expect(resolveImage(config, "base")).rejects.toThrow(/not found/);
    const gc = await repoGc(config, "user");
    // layers of revisions 2, 4, 5 and 6 and rev3's full image; base layers 0 and 1 are still used by "kept"
    expect(gc.blobsDeleted).toBe(5);
    expect(gc.stagingDeleted).toBe(2);
    expect(gc.freedBytes).toBeGreaterThan(0);
    for (const gone of [rev2.topPath, rev3.topPath, all.topPath]) await expect(stat(gone)).rejects.toThrow();
    for (const layer of kept.layers) await stat(layer);
    expect(await readdir(tmp)).toEqual([live.slice(tmp.length + 1)]);
    const out = join(dir, "kept.raw");
    await exportImage(config, "kept", out);
    expect(await compareImages(join(dir, "rev1.raw"), out)).toBe(0);
    expect(await repoGc(config, "user")).toMatchObject({ blobsDeleted: 0, stagingDeleted: 0 });
    // global repo untouched by user gc
    await run("qemu-img", ["check", "-q", (await resolveImage(config, "global:derived")).topPath]);
  });

  it("reports broken repository paths and metadata clearly", async () => {
    const file = join(dir, "afile");
    await writeFile(file, "");
    const bad = { repos: [{ name: "bad", path: file }] };
    await expect(importImage(bad, rawSrc, "x")).rejects.toThrow(`Repository path ${file} is not a directory`);
    await expect(listImages(bad)).rejects.toThrow(/is not a directory/);
    expect(await listImageNames(bad)).toEqual([]);
    const unset = { repos: [{ name: "env", path: "%{env:PCOCC_SURELY_UNSET}/repo" }] };
    await expect(resolveImage(unset, "x")).rejects.toThrow(/PCOCC_SURELY_UNSET/);
    const metaFile = join(config.repos[0]!.path, "meta", "kept@0");
    const saved = await readFile(metaFile, "utf8");
    await writeFile(
      join(config.repos[0]!.path, "meta", "evil@0"),
      JSON.stringify({ ...JSON.parse(saved), name: "evil", data_blobs: ["../../../etc/passwd"] }),
    );
    await expect(resolveImage(config, "evil")).rejects.toThrow(
      /Bad image metadata .*evil@0: invalid blob hash/,
    );
    await expect(repoGc(config, "user")).rejects.toThrow(/Bad image metadata/);
  });
});
