import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { makeConfigDirs } from "../config/fixture.js";
import { runPcocc } from "./run-pcocc.js";

// each case spawns the real CLI, which takes seconds on a loaded machine
vi.setConfig({ testTimeout: 60_000 });

const work = mkdtempSync(join(tmpdir(), "pcocc-preflight-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `salloc` and `sbatch` first on PATH that record their arguments and exit 7: a run that reached one shows. */
const bin = join(work, "bin");
const record = join(work, "salloc.args");
mkdirSync(bin);
for (const tool of ["salloc", "sbatch"]) {
  writeFileSync(join(bin, tool), `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\nexit 7\n`);
  chmodSync(join(bin, tool), 0o755);
}

const repos = `repos:\n  - name: global\n    path: ${join(work, "global")}\n  - name: user\n    path: ${join(work, "user")}\n`;
const mountDir = join(work, "share");
mkdirSync(mountDir);
const userData = join(work, "ud.yaml");
writeFileSync(userData, "#cloud-config\n");

async function alloc(templates: string, args: string[], verb = "alloc") {
  rmSync(record, { force: true });
  const dirs = makeConfigDirs({ "repos.yaml": repos }, { "templates.yaml": templates });
  const r = await runPcocc([verb, ...args], {
    ...dirs,
    cacheDir: join(work, "cache"),
    extra: { PATH: `${bin}:${process.env.PATH ?? ""}`, HOME: work },
  });
  return { ...r, slurmAsked: existsSync(record) };
}

describe("pcocc alloc preflight", () => {
  it("refuses a template whose image does not exist, naming template and image, before salloc", async () => {
    const r = await alloc("bad:\n  image: nosuch\n", ["bad:2"]);
    expect(r.stderr).toBe(
      "pcocc: template 'bad': image 'nosuch': Image nosuch not found in any configured repository\n",
    );
    expect(r.status).toBe(255);
    expect(r.slurmAsked).toBe(false);
  });
  it("names the inheriting template of a cluster with several", async () => {
    const r = await alloc(
      "ok:\n  resource-set: default\nbase:\n  image: global:gone\nchild:\n  inherits: base\n",
      ["ok:1,child:1"],
    );
    expect(r.stderr).toBe(
      "pcocc: template 'child': image 'global:gone': Image gone not found in repository global\n",
    );
    expect(r.status).toBe(255);
    expect(r.slurmAsked).toBe(false);
  });
  it("refuses a missing user-data file and mount directory of a template", async () => {
    const ud = await alloc(`t:\n  user-data: ${join(work, "nope.yaml")}\n`, ["t"]);
    expect(ud.stderr).toBe(
      `pcocc: template 't': user-data '${join(work, "nope.yaml")}': cannot read it (ENOENT)\n`,
    );
    expect([ud.status, ud.slurmAsked]).toEqual([255, false]);
    const mnt = await alloc(`t:\n  mount-points:\n    data: ${userData}\n`, ["t"]);
    expect(mnt.stderr).toBe(
      `pcocc: template 't': mount-points.data '${userData}': cannot use it (not a directory)\n`,
    );
    expect([mnt.status, mnt.slurmAsked]).toEqual([255, false]);
  });
  it("refuses an unreadable --user-data and a missing --mount directory", async () => {
    const ud = await alloc("t: {}\n", ["--user-data", join(work, "nope.yaml"), "t"]);
    expect(ud.stderr).toBe(`pcocc: --user-data '${join(work, "nope.yaml")}': cannot read it (ENOENT)\n`);
    expect([ud.status, ud.slurmAsked]).toEqual([255, false]);
    const mnt = await alloc("t: {}\n", ["--mount", `x=${join(work, "gone")}`, "t"]);
    expect(mnt.stderr).toBe(`pcocc: --mount 'x=${join(work, "gone")}': cannot use it (ENOENT)\n`);
    expect([mnt.status, mnt.slurmAsked]).toEqual([255, false]);
  });
  it("lets a good cluster through to salloc, whose exit status becomes pcocc's", async () => {
    const tpl = `t:\n  user-data: ${userData}\n  mount-points:\n    data: ${mountDir}\n`;
    const r = await alloc(tpl, ["--mount", `data=${join(work, "gone")}`, "--user-data", userData, "t:2"]);
    // the template's mount is replaced by a --mount of the same tag, whose directory is missing
    expect(r.status).toBe(255);
    const ok = await alloc(tpl, ["-p", "debug", "t:2"]);
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(7);
    expect(ok.slurmAsked).toBe(true);
    expect(readFileSync(record, "utf8").split("\n")).toEqual(
      expect.arrayContaining(["-p", "debug", "-n", "2"]),
    );
  });
  it("pcocc batch refuses missing -E and -b scripts before sbatch", async () => {
    for (const opt of ["-E", "-b"]) {
      const r = await alloc("t: {}\n", [opt, join(work, "no-script.sh"), "t"], "batch");
      expect(r.stderr).toBe(`pcocc: ${opt}: cannot read script ${join(work, "no-script.sh")}: ENOENT\n`);
      expect([r.status, r.slurmAsked]).toEqual([255, false]);
    }
  });
});
