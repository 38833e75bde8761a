import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/index.js";
import { ConfigError } from "../../../src/util/errors.js";
import { makeConfigDirs } from "./fixture.js";

let cacheHome: string;
const savedXdg = process.env.XDG_CACHE_HOME;

beforeEach(() => {
  cacheHome = mkdtempSync(join(tmpdir(), "pcocc-cache-test-"));
  process.env.XDG_CACHE_HOME = cacheHome;
});
afterEach(() => {
  if (savedXdg === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedXdg;
  rmSync(cacheHome, { recursive: true, force: true });
});

describe("validated configuration cache", () => {
  it("is written (0600) on first load and reused while the files are unchanged", async () => {
    const dirs = makeConfigDirs({}, { "templates.yaml": "a:\n  image: x\n" });
    const first = await loadConfig(dirs);
    const [file] = readdirSync(join(cacheHome, "pcocc"));
    expect(file).toMatch(/^config-[0-9a-f]{16}\.json$/);
    expect(statSync(join(cacheHome, "pcocc", file ?? "")).mode & 0o777).toBe(0o600);
    expect(await loadConfig(dirs)).toEqual(first);
  });
  it("notices an edited, an added and a broken file", async () => {
    const dirs = makeConfigDirs({}, { "templates.yaml": "a:\n  image: x\n" });
    await loadConfig(dirs);
    writeFileSync(join(dirs.userDir, "templates.yaml"), "a:\n  image: y\n");
    expect((await loadConfig(dirs)).templates.a?.settings.image).toBe("y");
    writeFileSync(join(dirs.systemDir, "templates.yaml"), "b: {}\n");
    expect(Object.keys((await loadConfig(dirs)).templates)).toEqual(["b", "a"]);
    mkdirSync(join(dirs.userDir, "templates.d"));
    writeFileSync(join(dirs.userDir, "templates.d", "c.yaml"), "c: {}\n");
    expect(Object.keys((await loadConfig(dirs)).templates)).toEqual(["b", "a", "c"]);
    writeFileSync(join(dirs.userDir, "templates.d", "c.yaml"), "c:\n  bogus: 1\n");
    await expect(loadConfig(dirs)).rejects.toBeInstanceOf(ConfigError);
  });
  it("is not used for the system-only (root) configuration", async () => {
    const dirs = makeConfigDirs();
    await loadConfig({ ...dirs, user: false });
    expect(() => readdirSync(join(cacheHome, "pcocc"))).toThrow();
  });
});
