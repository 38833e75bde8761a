import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("ssh")
    .description("Connect to a VM with ssh")
    .usage("[-j JOBID | -J NAME] [--user USER] [-p PORT] [--] [SSH OPTIONS] [user@]vmN [COMMAND]")
    .argument("[args...]")
    .allowUnknownOption()
    .addHelpText(
      "after",
      `
pcocc options (before the first other argument; use -- before ssh options that could be mistaken for them):
  -j, --jobid JOBID    target this job          -J, --jobname NAME   target the job with this name
  --user USER          target another user's job (with -j or -J)
  -p, --port PORT      port of the VM to reach (default 22)`,
    )
    .action(async (args: string[]) => {
      const { sshVm } = await import("../../slurm/index.js");
      process.exitCode = await sshVm(args);
    });
}
