import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("alloc")
    .description("Instantiate or restore a virtual cluster (interactive mode)")
    .usage(
      "[-E SCRIPT] [--wait[=ROLE]] [-r DIR] [--user-data FILE] [--mount TAG=PATH[,OPT=VAL]] [--image [TPL=]IMAGE] [SALLOC OPTIONS] CLUSTER_DEFINITION",
    )
    .argument("[args...]", "pcocc options, salloc options, then the cluster definition (e.g. mytpl:4)")
    .allowUnknownOption()
    .addHelpText(
      "after",
      `
pcocc options (anything else goes to salloc; -c is the number of vCPUs per VM):
  -E, --alloc-script SCRIPT   run SCRIPT on the first host instead of an interactive shell
  -r, --restart-ckpt DIR      resume the VMs from the checkpoint in DIR (see pcocc ckpt)
  --wait[=all|TEMPLATE]       start the shell/script only once the readiness checks of every VM (or
                              TEMPLATE's) passed; fail with the check and the console tail on timeout
  --user-data FILE            cloud-init user-data for every VM, instead of the template's
  --mount TAG=PATH[,type=virtio-9p|virtio-fs][,readonly=true|false]   share a host directory (repeatable)
  --image [TPL=]IMAGE         boot TPL's VMs (all VMs if one template) from IMAGE (repeatable)`,
    )
    .action(async (args: string[]) => {
      const { alloc } = await import("../../slurm/index.js");
      process.exitCode = await alloc(args);
    });
}
