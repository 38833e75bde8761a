import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..", "..");
let built: Promise<void> | undefined;

/**
 * Compiles src/ to dist/ once per test file. tsc exits non-zero when any file of the tree has a type error
 * but still emits; what matters here is that the CLI entry point was produced. Asynchronous so the test
 * worker stays responsive.
 */
export function buildOnce(): Promise<void> {
  built ??= new Promise<void>((resolve, reject) => {
    spawn("npm", ["run", "--silent", "build"], { cwd: root, stdio: "ignore" }).on("close", () => {
      if (existsSync(join(root, "dist", "cli", "main.js"))) resolve();
      else reject(new Error("npm run build produced no dist/cli/main.js"));
    });
  });
  return built;
}

export function runPcocc(
  args: string[],
  env: { systemDir: string; userDir: string; cacheDir: string },
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PCOCC_SYSTEM_CONF_DIR: env.systemDir,
    PCOCC_USER_CONF_DIR: env.userDir,
    XDG_CACHE_HOME: env.cacheDir,
  };
  delete childEnv.NODE_EXTRA_CA_CERTS;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, "bin", "pcocc"), ...args],
      { env: childEnv, encoding: "utf8" },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ status: err ? (typeof code === "number" ? code : null) : 0, stdout, stderr });
      },
    );
  });
}
