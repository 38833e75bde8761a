import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { complete } from "../../../src/cli/completion.js";
import { buildProgram } from "../../../src/cli/program.js";
import { makeConfigDirs } from "../config/fixture.js";

// the terminal case runs bash and the real CLI once per <TAB>, slow on a loaded machine
vi.setConfig({ testTimeout: 60_000 });

const saved = { ...process.env };
const cache = mkdtempSync(join(tmpdir(), "pcocc-complete-"));
// the fixture removes its directories after each test
beforeEach(() => {
  const dirs = makeConfigDirs({}, { "templates.yaml": "alpha:\n  image: x\nbeta:\n  image: y\n" });
  Object.assign(process.env, {
    PCOCC_SYSTEM_CONF_DIR: dirs.systemDir,
    PCOCC_USER_CONF_DIR: dirs.userDir,
    XDG_CACHE_HOME: cache,
    SLURM_NTASKS: "3",
  });
});
afterAll(() => {
  process.env = saved;
  rmSync(cache, { recursive: true, force: true });
});

/** Candidates for the last word of `line` (split on spaces; a trailing space starts an empty word). */
async function candidates(line: string): Promise<string[]> {
  const words = line.split(" ");
  return complete(await buildProgram([]), words.length - 1, words);
}

describe("completion from the program definition", () => {
  it("completes verbs and sub-verbs, never the hidden ones", async () => {
    expect(await candidates("pcocc al")).toEqual(["alloc"]);
    expect(await candidates("pcocc image re")).toEqual(["resize", "repo"]);
    expect(await candidates("pcocc -v image repo ")).toEqual(["list", "gc"]);
    expect(await candidates("pcocc in")).toEqual([]);
    expect(await candidates("pcocc dock")).toEqual([]);
    expect(await candidates("pcocc disp")).toEqual(["display"]);
  });
  it("completes a verb's options and the global ones", async () => {
    expect(await candidates("pcocc console --")).toEqual([
      "--jobid",
      "--jobname",
      "--user",
      "--state-dir",
      "--log",
      "--version",
      "--verbose",
      "--help",
    ]);
    expect(await candidates("pcocc image list -")).toContain("--repo");
  });
  it("completes template names, items of a definition, and the current job's VMs", async () => {
    expect(await candidates("pcocc template show ")).toEqual(["alpha", "beta"]);
    expect(await candidates("pcocc alloc -c 2 alpha:2,b")).toEqual(["alpha:2,beta"]);
    expect(await candidates("pcocc console v")).toEqual(["vm0", "vm1", "vm2"]);
    expect(await candidates("pcocc ssh vm")).toEqual(["vm0", "vm1", "vm2"]);
    // an option's value, and arguments of no known kind: left to bash's file completion
    expect(await candidates("pcocc console -j ")).toEqual([]);
    expect(await candidates("pcocc dump vm0 ")).toEqual([]);
  });
});

describe("bash completion through a terminal", () => {
  it("completes `pcocc al<TAB>` and a template name in an interactive bash", async () => {
    const { spawn } = await import("node-pty");
    const root = join(import.meta.dirname, "..", "..", "..");
    const bin = join(cache, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, "pcocc"),
      `#!/bin/sh\nexec "${process.execPath}" "${join(root, "bin", "pcocc")}" "$@"\n`,
    );
    chmodSync(join(bin, "pcocc"), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, PS1: "$ ", TERM: "dumb" };
    const term = spawn("bash", ["--norc", "--noprofile", "-i"], { env, cols: 200, rows: 24 });
    let output = "";
    const waitFor = (re: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${re} in:\n${output}`)), 30_000);
        const check = () => {
          if (!re.test(output)) return;
          clearTimeout(timer);
          sub.dispose();
          resolve();
        };
        const sub = term.onData((d) => {
          output += d;
          check();
        });
        check();
      });
    try {
      term.write("source <(pcocc internal complete --bash) && echo READY\r");
      await waitFor(/\r\nREADY\r\n/);
      // complete, then go to the start of the line and make it an echo that prints what completion made
      term.write("pcocc al\t");
      await waitFor(/pcocc alloc $/);
      term.write("\x01echo \r");
      await waitFor(/\r\npcocc alloc\r\n/);
      term.write("pcocc template show al\t");
      await waitFor(/show alpha $/);
      term.write("\x01echo \r");
      await waitFor(/\r\npcocc template show alpha\r\n/);
    } finally {
      term.kill();
    }
  });
});
