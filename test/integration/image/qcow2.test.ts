import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readQcow2Header, setQcow2Backing } from "../../../src/image/qcow2.js";
import { compareImages, run, tempDir, writePattern } from "./helpers.js";

let dir: string;
let cleanup: () => Promise<void>;
const info = async (path: string) => JSON.parse(await run("qemu-img", ["info", "--output=json", path]));

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("pcocc-qcow2-"));
  // data/ab/base and .tmp/x/ sit at the same depth, as in a repository
  await mkdir(join(dir, "data", "ab"), { recursive: true });
  await mkdir(join(dir, ".tmp", "x"), { recursive: true });
  await run("qemu-img", ["create", "-q", "-f", "qcow2", join(dir, "data", "ab", "base"), "64M"]);
  await writePattern(join(dir, "data", "ab", "base"), "qcow2", 0x21, "0", "2M");
});
afterAll(() => cleanup());

describe("qcow2 header edits", () => {
  it("reads virtual size and backing file", async () => {
    const layer = join(dir, "hdr.qcow2");
    await run("qemu-img", [
      "create",
      "-q",
      "-f",
      "qcow2",
      "-F",
      "qcow2",
      "-b",
      join(dir, "data", "ab", "base"),
      layer,
    ]);
    expect(await readQcow2Header(layer)).toEqual({
      version: 3,
      virtualSize: 64 * 2 ** 20,
      backingFile: join(dir, "data", "ab", "base"),
    });
    const raw = join(dir, "x.raw");
    await writeFile(raw, Buffer.alloc(4096));
    expect(await readQcow2Header(raw)).toBeUndefined();
  });

  it.each([
    ["v3", "1.1"],
    ["v2", "0.10"],
  ])("rebases in place exactly like qemu-img rebase -u (%s)", async (_v, compat) => {
    const mk = async (name: string) => {
      const p = join(dir, ".tmp", "x", name);
      await run("qemu-img", [
        "create",
        "-q",
        "-f",
        "qcow2",
        "-o",
        `compat=${compat}`,
        "-F",
        "qcow2",
        "-b",
        join(dir, "data", "ab", "base"),
        p,
      ]);
      await writePattern(p, "qcow2", 0x22, "1M", "2M");
      return p;
    };
    const ours = await mk(`ours-${compat}`);
    const theirs = await mk(`theirs-${compat}`);
    expect(await setQcow2Backing(ours, "../../data/ab/base")).toBe(true);
    await run("qemu-img", ["rebase", "-u", "-F", "qcow2", "-b", "../../data/ab/base", theirs]);
    const [a, b] = [await info(ours), await info(theirs)];
    for (const key of [
      "backing-filename",
      "full-backing-filename",
      "backing-filename-format",
      "virtual-size",
    ]) {
      expect(a[key]).toEqual(b[key]);
    }
    expect(a["backing-filename"]).toBe("../../data/ab/base");
    await run("qemu-img", ["check", "-q", ours]);
    expect(await compareImages(ours, theirs)).toBe(0);
    expect((await readQcow2Header(ours))?.backingFile).toBe("../../data/ab/base");
  });

  it("declines files it cannot edit safely", async () => {
    const standalone = join(dir, "standalone.qcow2");
    await run("qemu-img", ["create", "-q", "-f", "qcow2", standalone, "1M"]);
    expect(await setQcow2Backing(standalone, "../../data/ab/base")).toBe(false);
    const raw = join(dir, "y.raw");
    await writeFile(raw, Buffer.alloc(4096));
    expect(await setQcow2Backing(raw, "../../data/ab/base")).toBe(false);
    const small = join(dir, "small-cluster.qcow2");
    await run("qemu-img", [
      "create",
      "-q",
      "-f",
      "qcow2",
      "-o",
      "cluster_size=512",
      "-F",
      "qcow2",
      "-b",
      join(dir, "data", "ab", "base"),
      small,
    ]);
    expect(await setQcow2Backing(small, "x".repeat(600))).toBe(false);
    expect((await info(small))["backing-filename"]).toBe(join(dir, "data", "ab", "base"));
  });
});
