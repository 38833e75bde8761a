import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { commitDirectoryLayer, resolveDirectoryImage } from "../../../src/image/directory.js";
import { readQcow2Header } from "../../../src/image/qcow2.js";
import { createQcow2 } from "../../../src/image/qemu-img.js";
import { resolveImage } from "../../../src/image/resolve.js";
import { addRevision, prepareSaveTarget, resizeImage } from "../../../src/image/revision.js";
import { copyImage } from "../../../src/image/transfer.js";

const root = mkdtempSync(join(tmpdir(), "pcocc-dirimg-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function imageDir(files: string[]): string {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  for (const f of files) writeFileSync(join(dir, f), "");
  return dir;
}

describe("directory images (pcocc's deprecated image: /path)", () => {
  it("boots the highest image-revN, numerically", async () => {
    const dir = imageDir([
      "image",
      "image-rev2",
      "image-rev10",
      "image-rev9",
      "image-rev3.tmp",
      "image-rev0",
    ]);
    const d = await resolveDirectoryImage(dir, "t");
    expect(d).toMatchObject({ dir, revision: 10, path: join(dir, "image-rev10") });
  });
  it("falls back to image when there is no revision", async () => {
    const dir = imageDir(["image", "notes"]);
    expect(await resolveDirectoryImage(dir, "t")).toMatchObject({ revision: 0, path: join(dir, "image") });
  });
  it("a directory without an image: pcocc's message naming the template", async () => {
    const dir = imageDir(["readme"]);
    await expect(resolveDirectoryImage(dir, "old")).rejects.toThrow(
      /^template 'old' image directory has no image$/,
    );
  });
  it("an unreadable or missing directory is invalid, with the reason", async () => {
    await expect(resolveDirectoryImage(join(root, "missing"), "old")).rejects.toThrow(
      /^template 'old' image directory is invalid: ENOENT/,
    );
    if (process.getuid?.() !== 0) {
      const dir = imageDir(["image"]);
      chmodSync(dir, 0o000);
      await expect(resolveDirectoryImage(dir, "old")).rejects.toThrow(
        /^template 'old' image directory is invalid: EACCES/,
      );
      chmodSync(dir, 0o755);
    }
  });
  it("resolveImage takes any value with a / as a directory (no repository needed)", async () => {
    const dir = imageDir(["image", "image-rev1"]);
    const r = await resolveImage({ repos: [] }, `${dir}/`);
    expect(r).toMatchObject({ directory: dir, revision: 1, topPath: join(dir, "image-rev1"), kind: "vm" });
  });
  it("a save becomes image-rev<N+1> backed by the booted file by absolute path", async () => {
    const dir = imageDir([]);
    await createQcow2(join(dir, "image"), { size: 1 << 20 });
    const base = await resolveDirectoryImage(dir);
    const layer = join(root, "layer.qcow2");
    await createQcow2(layer, { backing: join(dir, "image"), size: 1 << 20, unsafe: true });
    const saved = await commitDirectoryLayer(layer, { dir, base, full: false });
    expect(saved).toEqual({ revision: 1, path: join(dir, "image-rev1") });
    expect((await readQcow2Header(saved.path))?.backingFile).toBe(join(dir, "image"));
    expect(existsSync(layer)).toBe(false);
    expect((await resolveDirectoryImage(dir)).path).toBe(saved.path);
    // a relative backing would change meaning with the directory's place: refused
    const rel = join(root, "rel.qcow2");
    await createQcow2(rel, { backing: "image", size: 1 << 20, unsafe: true });
    await expect(commitDirectoryLayer(rel, { dir, base, full: false })).rejects.toThrow(
      "must have an absolute backing file (has image)",
    );
  });
  it("never replaces a revision another save named first", async () => {
    const dir = imageDir([]);
    await createQcow2(join(dir, "image"), { size: 1 << 20 });
    const base = await resolveDirectoryImage(dir);
    writeFileSync(join(dir, "image-rev1"), "someone else's");
    const layer = join(root, "layer2.qcow2");
    await createQcow2(layer, { size: 1 << 20 });
    expect(await commitDirectoryLayer(layer, { dir, base, full: true })).toEqual({
      revision: 2,
      path: join(dir, "image-rev2"),
    });
  });
  it("save -d NEWDIR: a whole copy as NEWDIR/image, staged inside it and tidied away", async () => {
    const src = imageDir(["image"]);
    const dest = join(root, `new-${n++}`);
    const target = await prepareSaveTarget({ repos: [] }, src, { dest });
    expect(target.path.startsWith(join(dest, ".tmp", "save-"))).toBe(true);
    await createQcow2(target.path, { size: 1 << 20 });
    const rev = await addRevision({ repos: [] }, src, target.path, { full: true, dest });
    await target.release();
    expect(rev).toMatchObject({ revision: 0, uri: dest, topPath: join(dest, "image") });
    expect(existsSync(join(dest, ".tmp"))).toBe(false);
    await expect(prepareSaveTarget({ repos: [] }, src, { dest })).rejects.toThrow(
      `image directory ${dest} already exists`,
    );
  });
  it("repository commands that would lose the chain refuse a directory, saying what to do", async () => {
    const dir = imageDir(["image"]);
    await expect(copyImage({ repos: [] }, dir, "x")).rejects.toThrow(
      /is a directory path: .*pcocc image import/,
    );
    await expect(resizeImage({ repos: [] }, dir, "2G")).rejects.toThrow(/is a directory path/);
  });
});
