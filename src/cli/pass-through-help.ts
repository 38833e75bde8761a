import type { Command } from "commander";

/**
 * Verbs that hand unknown options to another program (salloc, sbatch, ssh, scp, nc) parse their own options
 * themselves, so commander does not know them. They are declared here once, for `--help` and the man page.
 */
export interface PassThroughOption {
  flags: string;
  description: string;
}

export interface PassThroughHelp {
  heading: string;
  options: PassThroughOption[];
  notes?: string;
}

/** How ssh, scp and nc name the cluster whose VM they reach (parsed by src/slurm/remote-args.ts). */
export const JOB_TARGET_OPTIONS: PassThroughOption[] = [
  { flags: "-j, --jobid JOBID", description: "target this job" },
  { flags: "-J, --jobname NAME", description: "target the job with this name" },
  { flags: "--user USER", description: "target another user's job (with -j or -J)" },
];

const declared = new WeakMap<Command, PassThroughHelp>();

export function passThroughHelp(cmd: Command, help: PassThroughHelp): Command {
  declared.set(cmd, help);
  const width = Math.min(28, Math.max(...help.options.map((o) => o.flags.length)) + 2);
  const lines = help.options.map(({ flags, description }) =>
    flags.length + 2 > width
      ? `  ${flags}\n  ${" ".repeat(width)}${description}`
      : `  ${flags.padEnd(width)}${description}`,
  );
  return cmd.addHelpText(
    "after",
    `\n${help.heading}:\n${lines.join("\n")}${help.notes ? `\n${help.notes}` : ""}`,
  );
}

export function passThroughOf(cmd: Command): PassThroughHelp | undefined {
  return declared.get(cmd);
}
