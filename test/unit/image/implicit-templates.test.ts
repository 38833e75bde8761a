import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveTemplate } from "../../../src/config/index.js";
import { parseClusterDefinition } from "../../../src/cluster/index.js";
import { loadConfigWithImages } from "../../../src/image/index.js";
import { makeConfigDirs } from "../config/fixture.js";

/** A user repository at `<userDir>/images` holding metadata for the named images (no blobs needed). */
function configWithImages(images: string[], templates = "") {
  const dirs = makeConfigDirs({ "repos.yaml": "repos: []\n" }, { "templates.yaml": templates });
  const repo = join(dirs.userDir, "images");
  writeFileSync(join(dirs.userDir, "repos.yaml"), `repos:\n  - name: mine\n    path: ${repo}\n`);
  mkdirSync(join(repo, "meta"), { recursive: true });
  writeFileSync(join(repo, ".config"), JSON.stringify({ version: 2 }));
  for (const name of images) writeFileSync(join(repo, "meta", `${name}@0`), "{}");
  return dirs;
}

describe("implicit image templates", () => {
  it("make every repository image usable as a template with the default resource set", async () => {
    const config = await loadConfigWithImages({ ...configWithImages(["centos", "debian"]), cache: false });
    const t = resolveTemplate(config, "centos");
    expect(t.settings.image).toBe("mine:centos");
    expect(t.settings["resource-set"]).toBe("default");
    expect(parseClusterDefinition("debian:2", config).vms.map((v) => v.template)).toEqual([
      "debian",
      "debian",
    ]);
  });

  it("never replace a template of the same name", async () => {
    const dirs = configWithImages(["centos"], "centos:\n  image: other\n  description: mine\n");
    const config = await loadConfigWithImages({ ...dirs, cache: false });
    expect(resolveTemplate(config, "centos").settings.image).toBe("other");
  });
});
