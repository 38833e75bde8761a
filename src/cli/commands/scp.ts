import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("scp")
    .description("Copy files to or from a VM with scp")
    .usage("[-j JOBID | -J NAME] [--user USER] [-P PORT] [--] [SCP OPTIONS] SOURCE... TARGET")
    .argument("[args...]", "scp arguments; [user@]vmN:path names a path on a VM")
    .allowUnknownOption()
    .addHelpText(
      "after",
      `
pcocc options (before the first other argument):
  -j, --jobid JOBID    target this job          -J, --jobname NAME   target the job with this name
  --user USER          target another user's job (with -j or -J)
  -P, --port PORT      port of the VM's ssh server (default 22)`,
    )
    .action(async (args: string[]) => {
      const { scpVm } = await import("../../slurm/index.js");
      process.exitCode = await scpVm(args);
    });
}
