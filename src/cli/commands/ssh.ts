import type { Command } from "commander";
import { JOB_TARGET_OPTIONS, passThroughHelp } from "../pass-through-help.js";

export function register(program: Command): void {
  const cmd = program
    .command("ssh")
    .description("Connect to a VM with ssh")
    .usage("[-j JOBID | -J NAME] [--user USER] [-p PORT] [--] [SSH OPTIONS] [user@]vmN [COMMAND]")
    .argument("[args...]")
    .allowUnknownOption();
  passThroughHelp(cmd, {
    heading:
      "pcocc options (before the first other argument; use -- before ssh options that could be mistaken for them)",
    options: [
      ...JOB_TARGET_OPTIONS,
      { flags: "-p, --port PORT", description: "port of the VM to reach (default 22)" },
    ],
  }).action(async (args: string[]) => {
    const { sshVm } = await import("../../slurm/index.js");
    process.exitCode = await sshVm(args);
  });
}
