import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("nc")
    .description("Connect to a TCP port of a VM with nc")
    .usage("[-j JOBID | -J NAME] [--user USER] [--] [NC OPTIONS] vmN [PORT]")
    .argument("[args...]", "nc options, the VM and its port (default 31337)")
    .allowUnknownOption()
    .addHelpText(
      "after",
      `
pcocc options (before the first other argument):
  -j, --jobid JOBID    target this job          -J, --jobname NAME   target the job with this name
  --user USER          target another user's job (with -j or -J)`,
    )
    .action(async (args: string[]) => {
      const { ncVm } = await import("../../slurm/index.js");
      process.exitCode = await ncVm(args);
    });
}
