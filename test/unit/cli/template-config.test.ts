import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { makeConfigDirs } from "../config/fixture.js";
import { runPcocc } from "./run-pcocc.js";

// each case spawns the real CLI, which takes seconds on a loaded machine
vi.setConfig({ testTimeout: 60_000 });

const cacheDir = mkdtempSync(join(tmpdir(), "pcocc-cli-cache-"));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const SYSTEM = { "templates.yaml": "site:\n  description: site VM\n  image: global:debian\n" };
const USER = {
  "templates.yaml": "mine:\n  inherits: site\n  description: my VM\n  resource-set: cluster\n",
  "templates.d/extra.yaml": "extra:\n  image: user:alpine\n",
};
const pcocc = (args: string[], dirs: { systemDir: string; userDir: string }) =>
  runPcocc(args, { ...dirs, cacheDir });

describe("pcocc template list", () => {
  it("prints user and system templates in two tables", async () => {
    const r = await pcocc(["template", "list"], makeConfigDirs(SYSTEM, USER));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("User templates:");
    expect(lines[1]).toMatch(/^NAME\s+DESCRIPTION\s+RESOURCES\s+IMAGE$/);
    expect(lines.slice(3, 5).map((l) => l.split(/\s{2,}/))).toEqual([
      ["extra", "default", "user:alpine"],
      ["mine", "my VM", "cluster", "global:debian"],
    ]);
    const sys = lines.indexOf("System templates:");
    expect(sys).toBeGreaterThan(4);
    expect(lines[sys + 3]?.split(/\s{2,}/)).toEqual(["site", "site VM", "default", "global:debian"]);
  });
  it("--json prints an array with each template's scope", async () => {
    const r = await pcocc(["template", "list", "--json"], makeConfigDirs(SYSTEM, USER));
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { name: "extra", scope: "user", description: "", resources: "default", image: "user:alpine" },
      { name: "mine", scope: "user", description: "my VM", resources: "cluster", image: "global:debian" },
      { name: "site", scope: "system", description: "site VM", resources: "default", image: "global:debian" },
    ]);
  });
  it("works on the shipped etc/ with a user file", async () => {
    const r = await pcocc(
      ["template", "list", "--json"],
      makeConfigDirs({}, { "templates.yaml": "a:\n  image: x\n" }),
    );
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { name: "a", scope: "user", description: "", resources: "default", image: "x" },
    ]);
  });
  it("fails with every configuration problem, located, and no stack trace unless -v", async () => {
    const dirs = makeConfigDirs({}, { "templates.yaml": "a:\n  resource-set: nope\nb:\n  hugepages: 1\n" });
    const r = await pcocc(["template", "list"], dirs);
    expect(r.status).toBe(255);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `pcocc: ${dirs.userDir}/templates.yaml:2: a.resource-set: unknown resource set 'nope' (not in resources.yaml)\n` +
        `${dirs.userDir}/templates.yaml:4: b.hugepages: unknown key\n`,
    );
    const verbose = await pcocc(["-v", "template", "list"], dirs);
    expect(verbose.status).toBe(255);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });
});

describe("pcocc template show", () => {
  it("shows each set attribute and whether it is inherited", async () => {
    const r = await pcocc(["template", "show", "mine"], makeConfigDirs(SYSTEM, USER));
    expect(r.status).toBe(0);
    const rows = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => l.split(/\s{2,}/));
    expect(rows[0]).toEqual(["ATTRIBUTE", "INHERITED", "VALUE"]);
    expect(rows.slice(2)).toEqual([
      ["description", "No", "my VM"],
      ["inherits", "No", "site"],
      ["resource-set", "No", "cluster"],
      ["image", "Yes (site)", "global:debian"],
      // pcocc's image-revision row: no such image in the test's repositories
      ["image-revision", "No", "N/A"],
    ]);
  });
  it("--json gives values and origins", async () => {
    const r = await pcocc(["template", "show", "mine", "--json"], makeConfigDirs(SYSTEM, USER));
    const out = JSON.parse(r.stdout) as { name: string; scope: string; attributes: unknown[] };
    expect(out.name).toBe("mine");
    expect(out.scope).toBe("user");
    expect(out.attributes).toContainEqual({
      attribute: "image",
      inherited: true,
      from: "site",
      value: "global:debian",
    });
  });
  it("prints an explicit bind-vcpus: false as false", async () => {
    const dirs = makeConfigDirs({}, { "templates.yaml": "pin:\n  bind-vcpus: false\n" });
    const r = await pcocc(["template", "show", "pin"], dirs);
    expect(r.status).toBe(0);
    const rows = r.stdout.split("\n").map((l) => l.split(/\s{2,}/));
    expect(rows).toContainEqual(["bind-vcpus", "No", "false"]);
  });
  it("says Template not found and exits 255", async () => {
    const r = await pcocc(["template", "show", "nope"], makeConfigDirs(SYSTEM, USER));
    expect(r.status).toBe(255);
    expect(r.stderr).toBe("pcocc: Template not found: nope\n");
  });
});

describe("pcocc config check", () => {
  it("exits 0 and says so when everything is valid", async () => {
    const dirs = makeConfigDirs(SYSTEM, USER);
    const r = await pcocc(["config", "check"], dirs);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`configuration OK (${dirs.systemDir} and ${dirs.userDir})\n`);
  });
  it("prints each problem of each file and exits 255", async () => {
    const dirs = makeConfigDirs(
      { "resources.yaml": "default:\n  networks: [nat-rssh, ib]\n  default: true\n" },
      { "templates.d/x.yaml": "_x: {}\n" },
    );
    const r = await pcocc(["config", "check"], dirs);
    expect(r.status).toBe(255);
    expect(r.stdout.trimEnd().split("\n")).toEqual([
      `${dirs.systemDir}/resources.yaml:2: default.networks[1]: unknown network 'ib' (not defined in networks.yaml)`,
      `${dirs.userDir}/templates.d/x.yaml:1: _x: template name '_x' is restricted (starts with _)`,
    ]);
    expect(r.stderr).toContain("2 configuration problem(s) found");
  });
  it("reports each network type this installation cannot run, with its name, file and line", async () => {
    const dirs = makeConfigDirs({
      "resources.yaml": "default:\n  networks: [nat-rssh, ib]\n  default: true\n",
      "networks.yaml":
        "nat-rssh:\n  type: ethernet\n  settings: {dev-prefix: nat}\n" +
        "ib:\n  type: hostib\n  settings: {host-device: mlx5_0}\n" +
        "br:\n  type: bridged\n  settings: {host-bridge: br0, tap-prefix: tap}\n",
    });
    const r = await pcocc(["config", "check"], dirs);
    expect(r.status).toBe(255);
    expect(r.stdout.trimEnd().split("\n")).toEqual([
      `${dirs.systemDir}/networks.yaml:5: ib.type: network 'ib': type hostib is not supported by this installation`,
      `${dirs.systemDir}/networks.yaml:8: br.type: network 'br': type bridged is not supported by this installation`,
    ]);
    expect(r.stderr).toContain("2 configuration problem(s) found");
    // other commands still work with such a file
    expect((await pcocc(["template", "list"], dirs)).status).toBe(0);
  });
  it("reports a recipe template whose image does not resolve, at the image: line that names it", async () => {
    const repo = mkdtempSync(join(tmpdir(), "pcocc-empty-repo-"));
    const dirs = makeConfigDirs({
      "repos.yaml": `repos:\n  - name: site\n    path: ${repo}\n`,
      "templates.yaml":
        "base:\n  description: plain\n  image: site:nosuch\n" +
        "r-head:\n  recipe: demo\n  inherits: base\n" +
        "r-node:\n  recipe: demo\n  image: site:other\n",
    });
    const r = await pcocc(["config", "check", "--system"], dirs);
    rmSync(repo, { recursive: true, force: true });
    expect(r.status).toBe(255);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(
        `^${dirs.systemDir}/templates.yaml:3: base.image: template 'r-head' \\(recipe demo\\): image 'site:nosuch': `,
      ),
    );
    expect(lines[1]).toMatch(
      new RegExp(
        `^${dirs.systemDir}/templates.yaml:9: r-node.image: template 'r-node' \\(recipe demo\\): image 'site:other': `,
      ),
    );
    // a plain template with a missing image is the job's problem, found before SLURM is asked, not config check's
    expect(r.stderr).toContain("2 configuration problem(s) found");
  });
  it("--system ignores the user's files", async () => {
    const dirs = makeConfigDirs({}, { "templates.yaml": "_x: {}\n" });
    expect((await pcocc(["config", "check"], dirs)).status).toBe(255);
    expect((await pcocc(["config", "check", "--system"], dirs)).status).toBe(0);
  });
});

describe("pcocc image repo list", () => {
  it("with repos: [] prints an empty table (JSON: []) and succeeds", async () => {
    const dirs = makeConfigDirs({ "repos.yaml": "repos: []\n" });
    const r = await pcocc(["image", "repo", "list"], dirs);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trimEnd().split("\n")[0]).toMatch(/^NAME\s+PATH\s+WRITABLE$/);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(2);
    const json = await pcocc(["image", "repo", "list", "--json"], dirs);
    expect(JSON.parse(json.stdout)).toEqual([]);
    // a command that needs a repository says there is none
    const imp = await pcocc(["image", "import", "/nonexistent.qcow2", "x"], dirs);
    expect(imp.status).toBe(255);
  });
});

describe("pcocc global options", () => {
  it("--help lists the template and config verbs; --version prints the version", async () => {
    const dirs = makeConfigDirs();
    const help = await pcocc(["--help"], dirs);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/template\s/);
    expect(help.stdout).toMatch(/config\s/);
    expect((await pcocc(["--version"], dirs)).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
