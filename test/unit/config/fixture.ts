import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, expect } from "vitest";
import { loadConfig, type PcoccConfig } from "../../../src/config/index.js";
import { ConfigError, type ConfigIssue } from "../../../src/util/errors.js";

const shippedEtc = join(import.meta.dirname, "..", "..", "..", "etc");
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A system dir holding the shipped etc/ files with some replaced, and a user dir with the given files
 * (paths relative to it, e.g. `templates.d/a.yaml`). A null system file is removed.
 */
export function makeConfigDirs(
  system: Record<string, string | null> = {},
  user: Record<string, string> = {},
): { systemDir: string; userDir: string } {
  const root = mkdtempSync(join(tmpdir(), "pcocc-config-test-"));
  dirs.push(root);
  const systemDir = join(root, "etc");
  const userDir = join(root, "user");
  mkdirSync(systemDir);
  mkdirSync(userDir);
  for (const f of ["batch.yaml", "networks.yaml", "resources.yaml", "templates.yaml", "repos.yaml"])
    writeFileSync(join(systemDir, f), readFileSync(join(shippedEtc, f)));
  for (const [f, text] of Object.entries(system)) {
    if (text === null) unlinkSync(join(systemDir, f));
    else writeFileSync(join(systemDir, f), text);
  }
  for (const [f, text] of Object.entries(user)) {
    mkdirSync(dirname(join(userDir, f)), { recursive: true });
    writeFileSync(join(userDir, f), text);
  }
  return { systemDir, userDir };
}

export async function load(
  system: Record<string, string | null> = {},
  user: Record<string, string> = {},
): Promise<PcoccConfig> {
  return loadConfig({ ...makeConfigDirs(system, user), cache: false });
}

/** Loads a configuration that must be invalid and returns its issues with file names made relative. */
export async function issuesOf(
  system: Record<string, string | null> = {},
  user: Record<string, string> = {},
): Promise<Array<ConfigIssue & { file: string }>> {
  const dirs = makeConfigDirs(system, user);
  const err = await loadConfig({ ...dirs, cache: false }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).issues.map((i) => ({
    ...i,
    file: i.file.replace(`${dirs.systemDir}/`, "system:").replace(`${dirs.userDir}/`, "user:"),
  }));
}

/** Exactly one issue, at this file, line and key, whose message contains `message`. */
export async function expectOneIssue(
  files: { system?: Record<string, string | null>; user?: Record<string, string> },
  expected: { file: string; line: number | undefined; keyPath: string | undefined; message: string },
): Promise<void> {
  const issues = await issuesOf(files.system, files.user);
  expect(issues).toHaveLength(1);
  const [issue] = issues;
  expect({ file: issue?.file, line: issue?.line, keyPath: issue?.keyPath }).toEqual({
    file: expected.file,
    line: expected.line,
    keyPath: expected.keyPath,
  });
  expect(issue?.message).toContain(expected.message);
}
