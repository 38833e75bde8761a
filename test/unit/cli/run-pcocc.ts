import { execFile } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..", "..");
export function runPcocc(
  args: string[],
  env: { systemDir: string; userDir: string; cacheDir: string },
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...extraEnv,
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
