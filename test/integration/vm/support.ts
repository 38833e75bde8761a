import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { ensureGuestImages, type GuestImages } from "../../../src/lab/guest/index.js";
import type { VmSpec } from "../../../src/vm/index.js";

const exec = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, "../../..");
export const PCOCC = join(ROOT, "bin/pcocc");

let built: Promise<void> | undefined;

/** The tests drive the real CLI (`bin/pcocc` → dist); rebuild when src/vm or the verbs changed since. */
export function ensureBuiltCli(): Promise<void> {
  built ??= (async () => {
    const newest = async (dir: string): Promise<number> => {
      const names = await readdir(dir).catch(() => [] as string[]);
      const times = await Promise.all(names.map(async (n) => (await stat(join(dir, n))).mtimeMs));
      return Math.max(0, ...times);
    };
    const srcTime = Math.max(
      await newest(join(ROOT, "src/vm")),
      await newest(join(ROOT, "src/cli/commands")),
    );
    const distTime = await stat(join(ROOT, "dist/vm/index.js")).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (distTime > srcTime) return;
    // tsc emits even when another part of the tree has a type error; what matters here is our output
    await exec("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT }).catch(() => undefined);
    await stat(join(ROOT, "dist/cli/commands/console.js"));
  })();
  return built;
}

export function guests(): Promise<GuestImages> {
  return ensureGuestImages();
}

/** A scratch pcocc configuration whose only repository is a fresh directory. */
export async function scratchConfig(): Promise<{ dir: string; repo: string; env: Record<string, string> }> {
  const dir = await mkdtemp(join(tmpdir(), "pcocc-vm-test-"));
  const sys = join(dir, "etc");
  const repo = join(dir, "repo");
  await mkdir(join(dir, "user"), { recursive: true });
  await cp(join(ROOT, "etc"), sys, { recursive: true });
  await writeFile(join(sys, "repos.yaml"), `repos:\n  - name: test\n    path: ${repo}\n`);
  return { dir, repo, env: { PCOCC_SYSTEM_CONF_DIR: sys, PCOCC_USER_CONF_DIR: join(dir, "user") } };
}

/** A tiny-guest VM spec (direct kernel boot, disk on `imagePath`). */
export function tinySpec(g: GuestImages, over: Partial<VmSpec> & { stateDir: string; rank: number }): VmSpec {
  const { template, ...rest } = over;
  return {
    name: `vm${over.rank}`,
    hostname: `vm${over.rank}`,
    nics: [],
    vcpus: 1,
    memoryMiB: 256,
    ...rest,
    template: {
      kernel: g.tiny.kernel,
      initrd: g.tiny.initrd,
      "kernel-args": g.tiny.kernelArgs,
      "machine-type": "q35",
      ...template,
    },
  };
}

export interface RunningVm {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  consoleLog: string;
}

/** `pcocc internal run --spec` as its own process, as srun would run it. */
export async function startVm(spec: VmSpec, env: Record<string, string> = {}): Promise<RunningVm> {
  await ensureBuiltCli();
  const specFile = `${spec.stateDir}.json`;
  await writeFile(specFile, JSON.stringify(spec));
  const child = spawn(process.execPath, [PCOCC, "internal", "run", "--spec", specFile], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on("exit", (code, signal) => r({ code, signal })),
  );
  return { child, stderr: () => err, exited, consoleLog: join(spec.stateDir, "console.log") };
}

/** Waits until the console log matches `re` `count` times (console markers, never sleeps). */
export async function waitForConsole(
  vm: RunningVm,
  re: RegExp,
  timeoutMs = 300_000,
  count = 1,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const g = new RegExp(re.source, re.flags.includes("g") ? re.flags : `${re.flags}g`);
  for (;;) {
    const log = await readFile(vm.consoleLog, "utf8").catch(() => "");
    if ((log.match(g)?.length ?? 0) >= count) return log;
    if (vm.child.exitCode !== null || vm.child.signalCode !== null)
      throw new Error(`hypervisor exited while waiting for ${re}: ${vm.stderr()}\n${log.slice(-2000)}`);
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${re} on the console:\n${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function pcocc(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  await ensureBuiltCli();
  try {
    const r = await exec(process.execPath, [PCOCC, ...args], {
      env: { ...process.env, ...env },
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a test VM if a test failed half-way (SIGTERM → orderly quit → cleanup). */
export async function stopVm(vm: RunningVm | undefined): Promise<void> {
  if (!vm || vm.child.exitCode !== null || vm.child.signalCode !== null) return;
  vm.child.kill("SIGTERM");
  await vm.exited;
}
