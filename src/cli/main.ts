import { getVerbosity, PcoccError } from "../util/index.js";
import { buildProgram } from "./program.js";

/** Entry point of the `pcocc` binary: errors meant for users are one line on stderr, bugs get a stack. */
export async function main(argv: string[]): Promise<void> {
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
  // commander already printed its own usage error
  if (typeof e?.code === "string" && e.code.startsWith("commander.")) return e.exitCode ?? 2;
  process.stderr.write(
    `pcocc: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  return 255;
}
