import type { Command } from "commander";
import { passThroughHelp, type PassThroughOption } from "../pass-through-help.js";

/** The pcocc options alloc and batch share (after their own -E/-b), as --help and the man pages list them. */
export const LAUNCH_OPTIONS: PassThroughOption[] = [
  {
    flags: "-r, --restart-ckpt DIR",
    description: "resume the VMs from the checkpoint in DIR (see pcocc ckpt)",
  },
  {
    flags: "--wait[=all|TEMPLATE]",
    description:
      "start the shell/script only once the readiness checks of every VM (or TEMPLATE's) passed; fail with the check and the console tail on timeout",
  },
  { flags: "--user-data FILE", description: "cloud-init user-data for every VM, instead of the template's" },
  {
    flags: "--mount TAG=PATH[,type=virtio-9p|virtio-fs][,readonly=true|false]",
    description: "share a host directory (repeatable)",
  },
  {
    flags: "--image [TPL=]IMAGE",
    description: "boot TPL's VMs (all VMs if one template) from IMAGE (repeatable)",
  },
];

export function register(program: Command): void {
  const alloc = program
    .command("alloc")
    .description("Instantiate or restore a virtual cluster (interactive mode)")
    .usage(
      "[-E SCRIPT] [--wait[=ROLE]] [-r DIR] [--user-data FILE] [--mount TAG=PATH[,OPT=VAL]] [--image [TPL=]IMAGE] [SALLOC OPTIONS] CLUSTER_DEFINITION",
    )
    .argument("[args...]", "pcocc options, salloc options, then the cluster definition (e.g. mytpl:4)")
    .allowUnknownOption();
  passThroughHelp(alloc, {
    heading: "pcocc options (anything else goes to salloc; -c is the number of vCPUs per VM)",
    options: [
      {
        flags: "-E, --alloc-script SCRIPT",
        description: "run SCRIPT on the first host instead of an interactive shell",
      },
      ...LAUNCH_OPTIONS,
    ],
  }).action(async (args: string[]) => {
    const { alloc } = await import("../../slurm/index.js");
    process.exitCode = await alloc(args);
  });
}
