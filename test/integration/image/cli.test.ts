import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../../src/cli/main.js";
import { compareImages, run, tempDir, writePattern } from "./helpers.js";

let dir: string;
let cleanup: () => Promise<void>;
let raw: string;
const saved = { ...process.env };

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("pcocc-image-cli-"));
  const userDir = join(dir, "user");
  await mkdir(userDir);
  await writeFile(join(userDir, "repos.yaml"), `repos:\n  - name: mine\n    path: ${join(dir, "mine")}\n`);
  process.env.PCOCC_SYSTEM_CONF_DIR = join(import.meta.dirname, "../../../etc");
  process.env.PCOCC_USER_CONF_DIR = userDir;
  process.env.HOME = dir;
  raw = join(dir, "disk.raw");
  await run("qemu-img", ["create", "-q", "-f", "raw", raw, "16M"]);
  await writePattern(raw, "raw", 0x42, "1M", "1M");
});
afterAll(async () => {
  process.env = saved;
  await cleanup();
});

/** Runs `pcocc ARGS` in-process; returns what it printed and its exit code. */
async function pcocc(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = "";
  let err = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s) => ((err += String(s)), true));
  process.exitCode = 0;
  try {
    await main(args);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, code };
}

describe("pcocc image CLI", () => {
  it("imports, lists, shows, exports, deletes and collects garbage", async () => {
    expect(await pcocc("image", "import", raw, "deb")).toMatchObject({
      code: 0,
      out: expect.stringContaining("mine:deb@0"),
    });
    const dup = await pcocc("image", "import", raw, "deb");
    expect(dup).toMatchObject({ code: 255, err: "pcocc: Image deb already exists in repo mine\n" });
    expect((await pcocc("image", "resize", "deb", "32M")).out).toContain("mine:deb@1");

    const list = await pcocc("image", "list", "-R", "mine");
    expect(list.out).toMatch(/^Mine images:\nNAME +TYPE +REVISION +REPO +OWNER +DATE\n/);
    expect(list.out).toMatch(/\ndeb +vm +1 +mine +/);
    const json = JSON.parse((await pcocc("image", "list", "--json", "deb")).out);
    expect(json[0]).toMatchObject({ repo: "mine", images: [{ name: "deb", revision: 1, layers: 2 }] });

    const show = await pcocc("image", "show", "deb@0");
    expect(show.out).toMatch(/URI: +mine:deb@0\nLayers: +1\n/);
    expect(show.out).toMatch(/REVISION +SIZE +CREATION DATE\n-+ +-+ +-+\n1 +.*\n0 +/);
    expect(JSON.parse((await pcocc("image", "show", "--json", "deb")).out)).toMatchObject({
      revision: 1,
      layers: 2,
    });

    const out = join(dir, "out.raw");
    expect((await pcocc("image", "export", "deb@0", out)).code).toBe(0);
    expect(await compareImages(raw, out)).toBe(0);

    expect((await pcocc("image", "copy", "deb@0", "copy")).out).toContain(
      "Image successfully copied to mine:copy@0",
    );
    expect((await pcocc("image", "delete", "deb")).out).toBe("Deleted deb revisions 0, 1 from repo mine\n");
    expect((await pcocc("image", "repo", "gc", "mine")).out).toMatch(/deleted 1 unreferenced layer\(s\)/);
    expect((await pcocc("image", "repo", "list")).out).toMatch(/\nmine +\S+\/mine +yes\n/);
  });

  it("exports in the format the destination names: suffix, or pcocc's FMT:path", async () => {
    expect((await pcocc("image", "import", raw, "fmt")).code).toBe(0);
    const byInfo = async (path: string) =>
      (JSON.parse(await run("qemu-img", ["info", "--output=json", path])) as { format: string }).format;

    const qcow = join(dir, "fmt-out.qcow2");
    const r = await pcocc("image", "export", "mine:fmt", qcow);
    expect(r).toMatchObject({ code: 0, out: expect.stringContaining(`exported to ${qcow} (qcow2)`) });
    expect(await byInfo(qcow)).toBe("qcow2");
    expect(await compareImages(raw, qcow)).toBe(0);

    const vdi = join(dir, "fmt-out.img");
    expect((await pcocc("image", "export", "mine:fmt", `vdi:${vdi}`)).code).toBe(0);
    expect(await byInfo(vdi)).toBe("vdi");

    const plain = join(dir, "fmt-out");
    expect((await pcocc("image", "export", "mine:fmt", plain)).code).toBe(0);
    expect(await byInfo(plain)).toBe("raw");

    expect(await pcocc("image", "export", "-t", "raw", "mine:fmt", `qcow2:${join(dir, "x")}`)).toMatchObject({
      code: 255,
      err: expect.stringContaining("Conflicting formats"),
    });
  });

  it("reports bad input in one line with pcocc's exit code", async () => {
    expect(await pcocc("image", "show", "a@b")).toMatchObject({
      code: 255,
      err: "pcocc: Bad revision 'b' in 'a@b': expected a non-negative integer\n",
    });
    expect((await pcocc("image", "show", "nope")).err).toBe(
      "pcocc: Image nope not found in any configured repository\n",
    );
    expect((await pcocc("image", "repo", "gc", "nope")).err).toMatch(/^pcocc: Unknown repository 'nope'/);
    expect((await pcocc("image", "resize", "copy", "big")).err).toMatch(/^pcocc: Invalid size 'big'/);
  });
});
