import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { complete } from "../../../src/cli/completion.js";
import { buildProgram } from "../../../src/cli/program.js";
import { loadConfig } from "../../../src/config/index.js";
import { importImage } from "../../../src/image/index.js";
import { makeConfigDirs } from "../config/fixture.js";

// the terminal case runs bash and the real CLI once per <TAB>, slow on a loaded machine
vi.setConfig({ testTimeout: 60_000 });

const saved = { ...process.env };
const cache = mkdtempSync(join(tmpdir(), "pcocc-complete-"));
// the fixture removes its directories after each test
beforeEach(() => {
  const dirs = makeConfigDirs(
    { "repos.yaml": "repos: []\n" },
    {
      "templates.yaml": "alpha:\n  image: x\nbeta:\n  image: y\n",
      "repos.yaml": `repos:\n  - name: mine\n    path: ${join(cache, "repo")}\n`,
    },
  );
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
  it("completes image URIs where an image verb takes an existing image", async () => {
    const disk = join(cache, "disk.raw");
    writeFileSync(disk, Buffer.alloc(1 << 20));
    await importImage(await loadConfig({ cache: false }), disk, "mine:disk");
    expect(await candidates("pcocc image show ")).toEqual(["mine:disk"]);
    expect(await candidates("pcocc image export mi")).toEqual(["mine:disk"]);
    // export's destination is a file, import's source too
    expect(await candidates("pcocc image export mine:disk ")).toEqual([]);
    expect(await candidates("pcocc image import ")).toEqual([]);
  });
});

/** An interactive shell in a terminal, with `pcocc` on its PATH running this checkout. */
async function shellInTerminal(argv: string[]) {
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
  const term = spawn(argv[0]!, argv.slice(1), { env, cols: 200, rows: 24 });
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
  return { term, waitFor };
}

/** Completes `pcocc al<TAB>` and `pcocc template show al<TAB>`, then echoes each line to see what it became. */
async function completeInTerminal(term: { write(d: string): void }, waitFor: (re: RegExp) => Promise<void>) {
  term.write("pcocc al\t");
  await waitFor(/pcocc alloc $/);
  term.write("\x01echo \r");
  await waitFor(/\r\npcocc alloc\r\n/);
  term.write("pcocc template show al\t");
  await waitFor(/show alpha $/);
  term.write("\x01echo \r");
  await waitFor(/\r\npcocc template show alpha\r\n/);
}

describe("completion through a terminal", () => {
  it("completes `pcocc al<TAB>` and a template name in an interactive bash", async () => {
    const { term, waitFor } = await shellInTerminal(["bash", "--norc", "--noprofile", "-i"]);
    try {
      term.write("source <(pcocc internal complete --bash) && echo READY\r");
      await waitFor(/\r\nREADY\r\n/);
      await completeInTerminal(term, waitFor);
    } finally {
      term.kill();
    }
  });

  // zsh is in src/lab/debian-packages.txt; a machine without it cannot run this test
  it.runIf(existsSync("/usr/bin/zsh") || existsSync("/bin/zsh"))(
    "completes `pcocc al<TAB>` and a template name in an interactive zsh",
    async () => {
      const { term, waitFor } = await shellInTerminal(["zsh", "-f", "-i"]);
      try {
        term.write(
          "bindkey -e && autoload -Uz compinit && compinit -u && source <(pcocc internal complete --zsh) && echo READY\r",
        );
        await waitFor(/\r\nREADY\r\n/);
        await completeInTerminal(term, waitFor);
      } finally {
        term.kill();
      }
    },
  );
});
