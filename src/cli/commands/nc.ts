import type { Command } from "commander";
import { JOB_TARGET_OPTIONS, passThroughHelp } from "../pass-through-help.js";

export function register(program: Command): void {
  const cmd = program
    .command("nc")
    .description("Connect to a TCP port of a VM with nc")
    .usage("[-j JOBID | -J NAME] [--user USER] [--] [NC OPTIONS] vmN [PORT]")
    .argument("[args...]", "nc options, the VM and its port (default 31337)")
    .allowUnknownOption();
  passThroughHelp(cmd, {
    heading: "pcocc options (before the first other argument)",
    options: [...JOB_TARGET_OPTIONS],
  }).action(async (args: string[]) => {
    const { ncVm } = await import("../../slurm/index.js");
    process.exitCode = await ncVm(args);
  });
}
