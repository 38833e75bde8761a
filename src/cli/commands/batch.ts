import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("batch")
    .description("Instantiate or restore a virtual cluster (batch mode)")
    .usage(
      "[-E HOST_SCRIPT] [-b VM_SCRIPT] [--wait[=ROLE]] [-r DIR] [--user-data FILE] [--mount SPEC] [--image [TPL=]IMAGE] [SBATCH OPTIONS] CLUSTER_DEFINITION",
    )
    .argument("[args...]", "pcocc options, sbatch options, then the cluster definition (e.g. mytpl:4)")
    .allowUnknownOption()
    .addHelpText(
      "after",
      `
pcocc options (anything else goes to sbatch; the job is named pcocc unless -J is given):
  -E, --host-script FILE      run FILE on the first host once the cluster is up; the job ends with it
  -r, --restart-ckpt DIR      resume the VMs from the checkpoint in DIR (see pcocc ckpt)
  --wait[=all|TEMPLATE]       start the shell/script only once the readiness checks of every VM (or
                              TEMPLATE's) passed; fail with the check and the console tail on timeout
  -b, --batch-script FILE     run FILE in vm0 once the cluster is up (guest agent); the job ends with it
                              (with -E too, both start then; the host script is stopped when FILE ends)
  --user-data FILE            cloud-init user-data for every VM, instead of the template's
  --mount TAG=PATH[,type=virtio-9p|virtio-fs][,readonly=true|false]   share a host directory (repeatable)
  --image [TPL=]IMAGE         boot TPL's VMs (all VMs if one template) from IMAGE (repeatable)
Output goes to pcocc_<jobid>.out / pcocc_<jobid>.err.`,
    )
    .action(async (args: string[]) => {
      const { batch } = await import("../../slurm/index.js");
      process.exitCode = await batch(args);
    });
}
