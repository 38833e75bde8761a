import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { PcoccError } from "../../util/errors.js";

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Write the command's stdout to this file instead of collecting it. */
  stdoutFile?: string;
  /** Bytes fed to the command's stdin. */
  input?: Buffer | string;
}

/**
 * Runs one build step (argv, never a shell string) and returns its stdout. A failure carries the tail of
 * stderr, which is where debootstrap, mkfs and qemu-img say what went wrong.
 */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error("run: empty argv");
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? { ...process.env, LC_ALL: "C" },
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let err = "";
    const file = opts.stdoutFile ? createWriteStream(opts.stdoutFile) : undefined;
    const fileDone = file ? new Promise<void>((ok) => file.on("close", () => ok())) : Promise.resolve();
    if (file) child.stdout?.pipe(file);
    else child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => {
      err = (err + b.toString()).slice(-4000);
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    child.on("error", (e) => reject(new PcoccError(`cannot run ${cmd}: ${e.message}`, { cause: e })));
    child.on("close", (code, signal) => {
      if (code === 0) return void fileDone.then(() => resolve(Buffer.concat(out).toString()));
      const why = signal ? `killed by ${signal}` : `exit ${code}`;
      const tail = err.trim().split("\n").slice(-8).join("\n");
      reject(new PcoccError(`${argv.slice(0, 3).join(" ")} failed (${why})${tail ? `:\n${tail}` : ""}`));
    });
  });
}
