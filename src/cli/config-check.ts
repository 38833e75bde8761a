import { defaultSystemDir, defaultUserDir, loadConfig, unsupportedIssues } from "../config/index.js";
import { ConfigError, formatConfigIssue } from "../util/index.js";

/** Prints every problem found (one per line) and returns the exit status: 0 only when all is valid. */
export async function configCheck(opts: { user: boolean }): Promise<number> {
  try {
    const config = await loadConfig({ user: opts.user, cache: false });
    const unsupported = unsupportedIssues(config);
    if (unsupported.length) throw new ConfigError(unsupported);
    const dirs = opts.user ? `${config.systemDir} and ${config.userDir}` : config.systemDir;
    process.stdout.write(`configuration OK (${dirs})\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) process.stdout.write(`${formatConfigIssue(issue)}\n`);
    const dirs = opts.user ? `${defaultSystemDir()} and ${defaultUserDir()}` : defaultSystemDir();
    process.stderr.write(`pcocc: ${err.issues.length} configuration problem(s) found in ${dirs}\n`);
    return 255;
  }
}
