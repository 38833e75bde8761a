import type { Command } from "commander";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { passThroughOf } from "../../../src/cli/pass-through-help.js";
import { writeManPages } from "../../../src/cli/manual/build.js";
import { buildProgram } from "../../../src/cli/program.js";
import { ALLOC_OPTIONS, BATCH_OPTIONS } from "../../../src/slurm/batch-args.js";
import { runPcocc } from "./run-pcocc.js";

// one `pcocc ... --help` per command, each a fresh node process
vi.setConfig({ testTimeout: 120_000 });

const root = join(import.meta.dirname, "..", "..", "..");
const out = mkdtempSync(join(tmpdir(), "pcocc-man-"));
const env = { systemDir: join(root, "etc"), userDir: out, cacheDir: out };
let program: Command;
beforeAll(async () => {
  program = await buildProgram([]);
  await writeManPages(out);
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

const visible = (cmd: Command) =>
  cmd
    .createHelp()
    .visibleCommands(cmd)
    .filter((c) => c.name() !== "help" || cmd.parent === null);
const tree = (cmd: Command): Command[] => [cmd, ...visible(cmd).flatMap(tree)];
const path = (cmd: Command): string[] => (cmd.parent ? [...path(cmd.parent), cmd.name()] : []);

/** Option names in the terms of a help listing: `  -j, --jobid <id>   job...` gives -j and --jobid. */
function helpFlags(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => /^ {2}-/.test(l))
    .flatMap(
      (l) =>
        l
          .trim()
          .split(/\s{2,}/)[0]!
          .match(/(?<![\w-])--?[A-Za-z][\w-]*/g) ?? [],
    );
}

/** Option names in the terms (the line after each .TP) of a roff page. */
function pageFlags(roff: string): string[] {
  const lines = roff.split("\n");
  return lines
    .flatMap((l, i) => (lines[i - 1] === ".TP" ? [l.replace(/\\f[BIR]/g, "").replace(/\\-/g, "-")] : []))
    .filter((t) => t.startsWith("-"))
    .flatMap((t) => t.match(/(?<![\w-])--?[A-Za-z][\w-]*/g) ?? []);
}

describe("man pages", () => {
  it("has a section-1 page for pcocc and every verb, section 5 for each shipped file, and section 7", () => {
    const names = (s: number) => readdirSync(join(out, `man${s}`)).sort();
    expect(names(1)).toEqual(["pcocc.1", ...visible(program).map((c) => `pcocc-${c.name()}.1`)].sort());
    const etc = readdirSync(join(root, "etc")).filter((f) => f.endsWith(".yaml"));
    expect(names(5)).toEqual(etc.map((f) => `pcocc-${f}.5`).sort());
    expect(names(7)).toContain("pcocc-getting-started.7");
    for (const f of etc) expect(readFileSync(join(root, "etc", f), "utf8")).toContain(`man pcocc-${f}`);
  });

  it("lists the same options as --help, for every verb and sub-verb", async () => {
    for (const verb of [program, ...visible(program)]) {
      const page = readFileSync(
        join(out, "man1", `${verb === program ? "pcocc" : `pcocc-${verb.name()}`}.1`),
        "utf8",
      );
      const cmds = verb === program ? [program] : tree(verb);
      const help = await Promise.all(cmds.map((c) => runPcocc([...path(c), "--help"], env)));
      for (const h of help) expect(h.status).toBe(0);
      const expected = new Set(help.flatMap((h) => helpFlags(h.stdout)));
      expect(expected.has("--help")).toBe(true);
      expect(new Set(pageFlags(page)), `pcocc ${path(verb).join(" ")}`).toEqual(expected);
    }
  });

  it("documents exactly the pcocc options alloc and batch parse themselves", () => {
    const documented = (verb: string) =>
      passThroughOf(program.commands.find((c) => c.name() === verb)!)!
        .options.map((o) => o.flags.match(/--[\w-]+/)![0])
        .sort();
    expect(documented("alloc")).toEqual(ALLOC_OPTIONS.map((o) => `--${o.long}`).sort());
    expect(documented("batch")).toEqual(BATCH_OPTIONS.map((o) => `--${o.long}`).sort());
  });
});

describe("pcocc help", () => {
  it("lists topics, and refuses an unknown one with status 2", async () => {
    const list = await runPcocc(["help"], env);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^ {2}alloc {2,}/m);
    expect(list.stdout).toMatch(/^ {2}templates\.yaml {2,}/m);
    expect(list.stdout).toMatch(/^ {2}getting-started {2,}/m);
    const bad = await runPcocc(["help", "nosuch"], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("pcocc: no help topic 'nosuch' (pcocc help lists them)\n");
  });

  it("renders the page as text where man is not installed", async () => {
    // a PATH without man (node is run by absolute path)
    const r = await runPcocc(["help", "alloc"], { ...env, extra: { PATH: out } });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^PCOCC-ALLOC\(1\)\n/);
    expect(r.stdout).toMatch(/^ {7}-E, --alloc-script SCRIPT$/m);
    const yaml = await runPcocc(["help", "templates.yaml"], { ...env, extra: { PATH: out } });
    expect(yaml.stdout).toMatch(/^ {7}bind-vcpus\n {14}Type: boolean\. Default: true\.$/m);
  });

  it.runIf(existsSync("/usr/bin/man"))("shows the built page through man", async () => {
    const r = await runPcocc(["help", "repos.yaml"], { ...env, extra: { MANWIDTH: "80" } });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^PCOCC-REPOS\.YAML\(5\) +pcocc manual +PCOCC-REPOS\.YAML\(5\)$/m);
    expect(r.stdout).toMatch(/^KEYS$/m);
  });
});
