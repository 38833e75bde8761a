import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export async function run(cmd: string, args: string[]): Promise<string> {
  return (await exec(cmd, args, { maxBuffer: 64 << 20 })).stdout;
}

/** Exit status of `qemu-img compare` (0 identical, 1 different) without throwing on 1. */
export async function compareImages(a: string, b: string): Promise<number> {
  try {
    await exec("qemu-img", ["compare", "-q", a, b]);
    return 0;
  } catch (err) {
    return (err as { code: number }).code;
  }
}

/** Writes `pattern` bytes at `offset` for `length` (qemu-io syntax, e.g. "1M"). */
export async function writePattern(
  image: string,
  format: string,
  pattern: number,
  offset: string,
  length: string,
) {
  await run("qemu-io", ["-f", format, "-c", `write -P ${pattern} ${offset} ${length}`, image]);
}

export async function readPatternOk(
  image: string,
  pattern: number,
  offset: string,
  length: string,
): Promise<boolean> {
  const out = await run("qemu-io", ["-r", "-c", `read -P ${pattern} ${offset} ${length}`, image]);
  return !/Pattern verification failed/.test(out);
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function reposIn(dir: string): { repos: Array<{ name: string; path: string }> } {
  return {
    repos: [
      { name: "user", path: join(dir, "user-repo") },
      { name: "global", path: join(dir, "global-repo") },
    ],
  };
}
