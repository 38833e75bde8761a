import type { Command } from "commander";
import { passThroughHelp } from "../pass-through-help.js";

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
      { flags: "-j, --jobid JOBID", description: "target this job" },
      { flags: "-J, --jobname NAME", description: "target the job with this name" },
      { flags: "--user USER", description: "target another user's job (with -j or -J)" },
      { flags: "-p, --port PORT", description: "port of the VM to reach (default 22)" },
    ],
  }).action(async (args: string[]) => {
    const { sshVm } = await import("../../slurm/index.js");
    process.exitCode = await sshVm(args);
  });
}
