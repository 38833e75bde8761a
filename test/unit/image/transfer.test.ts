import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../../src/config/index.js";
import { copyImage, exportImage, importImage, listImages } from "../../../src/image/index.js";
import { runPcocc } from "../cli/run-pcocc.js";
import { makeConfigDirs } from "../config/fixture.js";

// qemu-img on hundreds of MiB, and the real CLI in a terminal
vi.setConfig({ testTimeout: 120_000 });

const work = mkdtempSync(join(tmpdir(), "pcocc-transfer-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A system repository `global` and a user one `mine`, both under `work/<name>`. */
function twoRepos(name: string) {
  const base = join(work, name);
  const dirs = makeConfigDirs(
    { "repos.yaml": `repos:\n  - name: global\n    path: ${join(base, "global")}\n` },
    { "repos.yaml": `repos:\n  - name: mine\n    path: ${join(base, "mine")}\n` },
  );
  return { ...dirs, repo: join(base, "mine") };
}

function rawDisk(name: string, bytes: number, random = false): string {
  const file = join(work, name);
  writeFileSync(file, Buffer.alloc(0));
  for (let done = 0; done < bytes; done += 1 << 24)
    writeFileSync(
      file,
      random ? randomBytes(Math.min(1 << 24, bytes - done)) : Buffer.alloc(Math.min(1 << 24, bytes - done)),
      { flag: "a" },
    );
  return file;
}

/** Everything under a repository but its empty skeleton (.config, data/, meta/, .tmp/). */
function repoContents(repo: string): string[] {
  return readdirSync(repo, { recursive: true, encoding: "utf8" })
    .filter((p) => ![".config", "data", "meta", ".tmp"].includes(p))
    .sort();
}

describe("image transfers", () => {
  it("put an image named without a repository into the highest-priority one (the user's)", async () => {
    const dirs = twoRepos("priority");
    const config = await loadConfig({ ...dirs, cache: false });
    const r = await importImage(config, rawDisk("small.raw", 1 << 20), "disk");
    expect(r.uri).toBe("mine:disk@0");
    const repos = await listImages(config);
    expect(repos.map((x) => [x.repo, x.images.map((i) => i.name)])).toEqual([
      ["mine", ["disk"]],
      ["global", []],
    ]);
  });

  it("copy reports the bytes of the layers it copies, up to their total", async () => {
    const dirs = twoRepos("copy");
    const config = await loadConfig({ ...dirs, cache: false });
    await importImage(config, rawDisk("c.raw", 8 << 20, true), "disk");
    // /tmp on this machine has no reflinks: the layers are streamed
    const calls: Array<[number, number]> = [];
    const uri = await copyImage(config, "mine:disk", "global:disk", {
      onProgress: (d, t) => calls.push([d, t]),
    });
    expect(uri).toBe("global:disk@0");
    const total = calls[0]![1];
    expect(total).toBeGreaterThan(8 << 20);
    expect(calls.at(-1)).toEqual([total, total]);
    expect(calls.every(([d], i) => i === 0 || d >= calls[i - 1]![0])).toBe(true);
  });

  it("export checks its format and destination before copying anything", async () => {
    const dirs = twoRepos("export-checks");
    const config = await loadConfig({ ...dirs, cache: false });
    await importImage(config, rawDisk("e.raw", 1 << 20), "disk");
    await expect(exportImage(config, "disk", join(work, "nodir", "out.raw"))).rejects.toThrow(
      `Destination directory ${join(work, "nodir")} does not exist`,
    );
    await expect(exportImage(config, "disk", join(work, "out.x"), { format: "nosuch" })).rejects.toThrow(
      "Unsupported export format 'nosuch'",
    );
    await expect(exportImage(config, "nosuch", join(work, "out.raw"))).rejects.toThrow(/nosuch/);
    expect(readdirSync(work).filter((f) => f.startsWith("out") || f.startsWith(".out"))).toEqual([]);
    // through the CLI: the error alone, no status line
    const r = await runPcocc(["image", "export", "disk", join(work, "nodir", "x")], {
      ...dirs,
      cacheDir: work,
    });
    expect(r).toMatchObject({ status: 255, stdout: "" });
    expect(r.stderr).toBe(`pcocc: Destination directory ${join(work, "nodir")} does not exist\n`);
  });

  it("print status on stderr, the result on stdout, and no progress when not on a terminal", async () => {
    const dirs = twoRepos("quiet");
    const r = await runPcocc(["image", "import", rawDisk("q.raw", 4 << 20), "disk"], {
      ...dirs,
      cacheDir: work,
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("Importing image ...\n");
    expect(r.stdout).toBe("Image imported as mine:disk@0 (from raw)\n");
  });

  it("show percent and rate on a terminal, and Ctrl-C during an import leaves nothing in the repo", async () => {
    const { spawn } = await import("node-pty");
    const dirs = twoRepos("interrupt");
    mkdirSync(join(work, "interrupt-cache"));
    const src = rawDisk("big.raw", 384 << 20, true);
    const bin = join(import.meta.dirname, "..", "..", "..", "bin", "pcocc");
    const term = spawn(process.execPath, [bin, "image", "import", src, "big"], {
      env: {
        ...process.env,
        PCOCC_SYSTEM_CONF_DIR: dirs.systemDir,
        PCOCC_USER_CONF_DIR: dirs.userDir,
        XDG_CACHE_HOME: join(work, "interrupt-cache"),
      },
      cols: 120,
    });
    let output = "";
    const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no progress in: ${output}`)), 60_000);
      term.onData((d) => {
        output += d;
        if (/Importing \d+% [\d.]+ [KMG]?i?B\/s/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    term.write("\x03");
    expect(await exited).toBe(130);
    // on a line of its own: the progress line is erased first
    const erased = output.lastIndexOf("\r\u001b[K");
    expect(output.slice(erased + 4)).toMatch(/^(\^C)?pcocc: Importing image interrupted\r?\n/);
    expect(repoContents(dirs.repo)).toEqual([]);
  });
});
