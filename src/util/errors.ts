/**
 * Errors a user or admin is meant to read. Anything else reaching the CLI's top level is a bug and is
 * reported with its stack trace.
 */
export class PcoccError extends Error {
  /** pcocc exits with 255 on its own errors; scripts written for it test for that. */
  readonly exitCode: number;

  constructor(message: string, options?: { exitCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options?.exitCode ?? 255;
  }
}

/** A problem in a configuration file, located as precisely as the source allows. */
export interface ConfigIssue {
  file: string;
  line?: number;
  /** Dotted key path inside the document, e.g. `nat-rssh.settings.int-network`. */
  keyPath?: string;
  message: string;
}

export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
  const key = issue.keyPath ? ` ${issue.keyPath}:` : "";
  return `${where}:${key} ${issue.message}`;
}

export class ConfigError extends PcoccError {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatConfigIssue).join("\n"));
    this.issues = issues;
  }
}
