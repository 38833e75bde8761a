import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { PcoccConfig } from "../../../src/config/index.js";
import { decodeLaunchRequest } from "../../../src/job/index.js";
import {
  batchManagerArgs,
  batchManagerEnv,
  launchRequest,
  launcherCommand,
} from "../../../src/slurm/alloc.js";
import { BATCH_SCRIPT, batchWrapper, HOST_SCRIPT } from "../../../src/slurm/batch.js";
import { allocationFromEnv, frontEnv, promptCommand, startTimeoutMs } from "../../../src/slurm/launcher.js";
import { shellQuote } from "../../../src/slurm/pcocc-command.js";

const config = { batch: { settings: { "batch-args": ["--mem-per-cpu=512"] } } } as unknown as PcoccConfig;

describe("salloc/sbatch command lines", () => {
  it("puts site batch-args first, then the user's options, then one task per VM", () => {
    expect(batchManagerArgs(config, ["-N2", "-c", "2"], 4)).toEqual([
      "--mem-per-cpu=512",
      "-N2",
      "-c",
      "2",
      "-n",
      "4",
    ]);
  });
  it("forces block distribution and hands the keystore credential to the SPANK setup", () => {
    const env = batchManagerEnv("ab".repeat(16), { PATH: "/bin" });
    expect(env).toEqual({
      PATH: "/bin",
      SLURM_DISTRIBUTION: "block:block",
      PCOCC_REQUEST_CRED: "ab".repeat(16),
    });
  });
  it("runs the launcher with the user's launch options", () => {
    const argv = launcherCommand(launchRequest("t:2", { script: "probe", mounts: ["a=/x"], images: [] }));
    expect(argv.slice(argv.indexOf("internal"))).toEqual([
      "internal",
      "launcher",
      "--alloc-script=probe",
      "--mount=a=/x",
      "--definition=t:2",
    ]);
    expect(decodeLaunchRequest(argv.slice(argv.indexOf("launcher") + 1))).toEqual({
      definition: "t:2",
      script: "probe",
      mounts: ["a=/x"],
      images: [],
    });
  });
});

describe("batch wrapper", () => {
  it("embeds the host script and runs the launcher with it, keeping awkward arguments intact", () => {
    const dir = mkdtempSync(join(tmpdir(), "pcocc-wrapper-"));
    const launcher = [
      process.execPath,
      "-e",
      "const fs=require('fs');const a=process.argv.slice(1);" +
        "const s=a.find((x)=>x.startsWith('--alloc-script=')).slice(15);" +
        "console.log(JSON.stringify(a));console.log(fs.readFileSync(s,'utf8'));process.exit(7)",
      "--",
      `--alloc-script=${HOST_SCRIPT}`,
      "it's $HOME `x`",
    ];
    const hostScript = "#!/bin/sh\necho 'host $SCRIPT' \"quoted\"\nEOF\n";
    const file = join(dir, "wrapper.sh");
    writeFileSync(file, batchWrapper(launcher, hostScript));
    let out = "";
    let status = 0;
    try {
      execFileSync("bash", [file], { encoding: "utf8" });
    } catch (err) {
      const e = err as { status: number; stdout: string };
      status = e.status;
      out = e.stdout;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(status).toBe(7);
    const [argLine, ...script] = out.split("\n");
    const argv = JSON.parse(argLine!) as string[];
    expect(argv[argv.length - 1]).toBe("it's $HOME `x`");
    expect(argv.find((a) => a.startsWith("--alloc-script="))).toMatch(/^--alloc-script=\/tmp\/pcocc\.host\./);
    expect(script.join("\n")).toBe(hostScript + "\n");
  });
  it("embeds the -b script the same way, under its own name", () => {
    const dir = mkdtempSync(join(tmpdir(), "pcocc-wrapper-"));
    const file = join(dir, "wrapper.sh");
    const launcher = [process.execPath, "-e", "process.stdout.write(process.argv[1])", "--", BATCH_SCRIPT];
    writeFileSync(file, batchWrapper(launcher, undefined, "#!/bin/sh\necho vm\n"));
    try {
      const path = execFileSync("bash", [file], { encoding: "utf8" });
      expect(path).toMatch(/^\/tmp\/pcocc\.batch\./);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("declares pcocc's output files", () => {
    expect(batchWrapper(["x"])).toMatch(/#SBATCH -o pcocc_%j.out\n#SBATCH -e pcocc_%j.err/);
  });
  it("quotes words for the shell", () => {
    expect(shellQuote("plain-word_1.2")).toBe("plain-word_1.2");
    expect(shellQuote("a b'c")).toBe(`'a b'\\''c'`);
  });
});

describe("launcher environment", () => {
  it("reads the allocation from SLURM's variables", () => {
    expect(
      allocationFromEnv({
        SLURM_JOB_ID: "42",
        SLURM_JOB_NODELIST: "node[1-2]",
        SLURM_TASKS_PER_NODE: "2(x2)",
        SLURM_JOB_NAME: "mine",
      }),
    ).toEqual({
      jobId: 42,
      jobName: "mine",
      nodes: ["node1", "node2"],
      tasksPerNode: [2, 2],
      cpusPerTask: "1",
    });
    expect(() => allocationFromEnv({})).toThrow(/inside a SLURM allocation/);
  });
  it("sets the prompt and PCOCC_* for the shell and keeps the credential out", () => {
    const env = frontEnv({ PCOCC_REQUEST_CRED: "secret", HOME: "/h" }, 42, "pcocc");
    expect(env).toMatchObject({
      PCOCC_ALLOCATION: "1",
      PCOCC_JOB_ID: "42",
      PCOCC_JOB_NAME: "pcocc",
      SLURM_JOB_ID: "42",
    });
    expect(env.PCOCC_REQUEST_CRED).toBeUndefined();
    const ps1 = execFileSync(
      "bash",
      ["-c", `PS1='$ '; ${promptCommand(42)}; ${promptCommand(42)}; printf %s "$PS1"`],
      {
        encoding: "utf8",
      },
    );
    expect(ps1).toBe("(pcocc/42) $ ");
  });
  it("reads the start timeout", () => {
    expect(startTimeoutMs({})).toBe(300_000);
    expect(startTimeoutMs({ PCOCC_START_TIMEOUT: "5" })).toBe(5000);
    expect(() => startTimeoutMs({ PCOCC_START_TIMEOUT: "soon" })).toThrow(/PCOCC_START_TIMEOUT/);
  });
});
