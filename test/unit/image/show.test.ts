import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/index.js";
import { formatImageShow, importImage, resizeImage, showImage } from "../../../src/image/index.js";
import { makeConfigDirs } from "../config/fixture.js";

const work = mkdtempSync(join(tmpdir(), "pcocc-show-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("image show", () => {
  it("gives each revision's virtual disk size", async () => {
    const dirs = makeConfigDirs({ "repos.yaml": `repos:\n  - name: mine\n    path: ${join(work, "r")}\n` });
    const config = await loadConfig({ ...dirs, cache: false });
    const disk = join(work, "disk.raw");
    writeFileSync(disk, Buffer.alloc(1 << 20));
    await importImage(config, disk, "disk");
    await resizeImage(config, "disk", "3M");
    const latest = await showImage(config, "disk");
    expect(latest.virtualSize).toBe(3 << 20);
    expect(latest.revisions.map((r) => r.virtualSize)).toEqual([3 << 20, 1 << 20]);
    expect((await showImage(config, "disk@0")).virtualSize).toBe(1 << 20);
    expect(formatImageShow(latest)).toMatch(/\nVirtual size: 3\.0 MiB\n/);
  });
});
