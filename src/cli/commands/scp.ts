import type { Command } from "commander";
import { JOB_TARGET_OPTIONS, passThroughHelp } from "../pass-through-help.js";

export function register(program: Command): void {
  const cmd = program
    .command("scp")
    .description("Copy files to or from a VM with scp")
    .usage("[-j JOBID | -J NAME] [--user USER] [-P PORT] [--] [SCP OPTIONS] SOURCE... TARGET")
    .argument("[args...]", "scp arguments; [user@]vmN:path names a path on a VM")
    .allowUnknownOption();
  passThroughHelp(cmd, {
    heading: "pcocc options (before the first other argument)",
    options: [
      ...JOB_TARGET_OPTIONS,
      { flags: "-P, --port PORT", description: "port of the VM's ssh server (default 22)" },
    ],
  }).action(async (args: string[]) => {
    const { scpVm } = await import("../../slurm/index.js");
    process.exitCode = await scpVm(args);
  });
}
