import { execFile } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..", "..");
export function runPcocc(
  args: string[],
  env: { systemDir: string; userDir: string; cacheDir: string; extra?: NodeJS.ProcessEnv },
  opts: { timeoutMs?: number } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PCOCC_SYSTEM_CONF_DIR: env.systemDir,
    PCOCC_USER_CONF_DIR: env.userDir,
    XDG_CACHE_HOME: env.cacheDir,
    ...env.extra,
  };
  delete childEnv.NODE_EXTRA_CA_CERTS;
  // a pcocc started inside a SLURM job would refuse alloc and pick its own job as the target
  delete childEnv.SLURM_JOB_ID;
  delete childEnv.PCOCC_JOB_ID;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, "bin", "pcocc"), ...args],
      { env: childEnv, encoding: "utf8", timeout: opts.timeoutMs, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ status: err ? (typeof code === "number" ? code : null) : 0, stdout, stderr });
      },
    );
  });
}
