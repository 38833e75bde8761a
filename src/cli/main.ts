import { getVerbosity, PcoccError } from "../util/index.js";
import { buildProgram } from "./program.js";

/** Entry point of the `pcocc` binary: errors meant for users are one line on stderr, bugs get a stack. */
export async function main(argv: string[]): Promise<void> {
  quietOnClosedPipe();
  try {
    await (await buildProgram(argv)).parseAsync(argv, { from: "user" });
  } catch (err) {
    process.exitCode = reportError(err);
  }
}

function reportError(err: unknown): number {
  if (err instanceof PcoccError) {
    process.stderr.write(`pcocc: ${err.message}\n`);
    if (getVerbosity() > 0 && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const e = err as { code?: string; exitCode?: number };
  // commander already printed its usage error (or the help or version asked for, status 0)
  if (typeof e?.code === "string" && e.code.startsWith("commander.")) return e.exitCode === 0 ? 0 : 2;
  process.stderr.write(
    `pcocc: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  return 255;
}

/**
 * `pcocc ... | head`: once the reader is gone our output is not wanted. End as a command killed by SIGPIPE
 * would (status 128 + 13), without the unhandled-error stack node prints.
 */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
      process.exit(141);
    });
  }
}
