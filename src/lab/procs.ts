import { spawn } from "node:child_process";
import { openSync, closeSync, readFileSync, readlinkSync, readdirSync } from "node:fs";
import { PcoccError } from "../util/errors.js";
import { exitStatus } from "../util/exit-status.js";
import { parentPid } from "../util/proc.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

/** Runs argv to completion, capturing output; never throws on a non-zero exit. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) return reject(new Error("run: empty argv"));
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: exitStatus(code, signal), stdout, stderr }));
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** Like run() but a failure is an error naming the command and its stderr. */
export async function runOk(argv: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new PcoccError(
      `lab: \`${argv.join(" ")}\` failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`,
    );
  }
  return r.stdout;
}

/**
 * Starts a long-running daemon in its own session with output appended to `log`; the caller records the pid.
 * Programs started through nsenter/unshare/`sh -c "exec …"` keep that pid.
 */
export function startDaemon(argv: string[], log: string, env: NodeJS.ProcessEnv = process.env): number {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error("startDaemon: empty argv");
  const fd = openSync(log, "a");
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ["ignore", fd, fd], env });
    child.on("error", () => {});
    child.unref();
    if (child.pid === undefined) throw new PcoccError(`lab: cannot start ${cmd}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** A live (non-zombie) process, optionally whose command line contains `marker`. */
export function processAlive(pid: number, marker?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    if (marker === undefined) return true;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
  } catch {
    return false;
  }
}

export function processComm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

export function allPids(): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

/** The namespace identity (`net:[4026…]`) of a process, or "" once it is gone. */
export function nsOf(pid: number | "self", kind: "net" | "mnt" | "uts"): string {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return "";
  }
}

/** Processes whose environment holds exactly `entry` (e.g. `SLURM_CONF=/…/slurm.conf`). */
export function pidsWithEnv(entry: string, also?: (env: string[]) => boolean): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    let env: string[];
    try {
      env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (env.includes(entry) && (!also || also(env))) out.push(pid);
  }
  return out;
}

/** pid itself and its ancestors: never to be killed by the process doing the cleaning. */
export function ancestry(pid: number): Set<number> {
  const seen = new Set<number>();
  let cur = pid;
  while (cur > 1 && !seen.has(cur)) {
    seen.add(cur);
    const parent = parentPid(cur);
    if (parent === undefined) break;
    cur = parent;
  }
  return seen;
}

export function signal(pids: Iterable<number>, sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** SIGTERM, wait up to graceMs for them to exit, then SIGKILL the rest and wait for those. */
export async function terminate(pids: number[], graceMs: number): Promise<void> {
  signal(pids, "SIGTERM");
  const gone = () => pids.every((p) => !processAlive(p));
  if (await poll(gone, graceMs)) return;
  signal(
    pids.filter((p) => processAlive(p)),
    "SIGKILL",
  );
  await poll(gone, 5000);
}

/** Polls `check` every `intervalMs` until it is true (returns true) or `timeoutMs` passes (false). */
export async function poll(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** poll() that fails with a message naming what was awaited and where to look. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  hint = "",
): Promise<void> {
  if (!(await poll(check, timeoutMs))) {
    throw new PcoccError(
      `lab: timed out after ${timeoutMs / 1000} s waiting for ${what}${hint ? ` (${hint})` : ""}`,
    );
  }
}
