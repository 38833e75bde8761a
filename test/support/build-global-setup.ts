import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function builtMtime(): number {
  try {
    return statSync(join(root, "dist", "cli", "main.js")).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Tests that spawn `bin/pcocc` need `dist/` to match `src/`. `npm test` builds first, so this only
 * compiles when a developer runs vitest directly on a stale tree. Synchronous on purpose: each vitest
 * project runs its own global setup, and the second must see the first one's finished build.
 */
export default function setup(): void {
  if (builtMtime() > newestMtime(join(root, "src"))) return;
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
}
