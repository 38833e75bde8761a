import type { Command } from "commander";

export interface GuestCommandFlags {
  jobid?: string;
  jobname?: string;
  user?: string;
  index?: string;
  timeout?: string;
  script?: string;
  pty?: boolean;
  prefix: boolean;
}

/** The options every verb that runs commands in VMs shares (exec, agent run). */
export function guestCommandOptions(cmd: Command, defaultIndex: string): Command {
  return cmd
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("-i, --index <indices>", "VMs to run in: all, or indices such as 0-3,5", defaultIndex)
    .option("-u, --user <user>", "run as this user in the guest (default root)")
    .option("-s, --script <file>", "copy this local script into the VMs and run it")
    .option("-t, --timeout <s>", "seconds each VM's agent gets to answer (default 60)")
    .option("--pty", "run in a terminal in the guest (one VM; raw mode here when on a terminal)")
    .option("--no-prefix", "do not prefix output lines with their VM")
    .argument("[cmd...]", "command and arguments (after -- when they have options)");
}

export async function runGuestCommand(argv: string[], o: GuestCommandFlags): Promise<void> {
  const { parseIndices, parseTimeout, runInGuests } = await import("../../slurm/index.js");
  process.exitCode = await runInGuests({
    jobId: o.jobid,
    jobName: o.jobname,
    indices: parseIndices(o.index ?? "0"),
    timeoutMs: parseTimeout(o.timeout),
    argv,
    script: o.script,
    guestUser: o.user,
    pty: o.pty === true,
    prefix: o.prefix ? undefined : false,
  });
}

export function register(program: Command): void {
  guestCommandOptions(
    program.command("exec").description("Run a command in VMs through the guest agent (output streams)"),
    "0",
  ).action((argv: string[], o: GuestCommandFlags) => runGuestCommand(argv, o));
}
