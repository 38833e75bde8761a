import { fileURLToPath } from "node:url";
import { getVerbosity } from "../util/index.js";

/**
 * How to run this pcocc again on a compute node (launcher, hypervisor tasks, console bridge): the same node
 * binary and entry script, so a job never mixes versions and nothing depends on `$PATH` on the nodes.
 */
export function pcoccCommand(...args: string[]): string[] {
  const script = fileURLToPath(new URL("../../bin/pcocc", import.meta.url));
  const verbose = Array.from({ length: getVerbosity() }, () => "-v");
  return [process.execPath, script, ...verbose, ...args];
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
