import type { Command } from "commander";
import { passThroughHelp } from "../pass-through-help.js";
import { LAUNCH_OPTIONS } from "./alloc.js";

export function register(program: Command): void {
  const batch = program
    .command("batch")
    .description("Instantiate or restore a virtual cluster (batch mode)")
    .usage(
      "[-E HOST_SCRIPT] [-b VM_SCRIPT] [--wait[=ROLE]] [-r DIR] [--user-data FILE] [--mount SPEC] [--image [TPL=]IMAGE] [SBATCH OPTIONS] CLUSTER_DEFINITION",
    )
    .argument("[args...]", "pcocc options, sbatch options, then the cluster definition (e.g. mytpl:4)")
    .allowUnknownOption();
  passThroughHelp(batch, {
    heading: "pcocc options (anything else goes to sbatch; the job is named pcocc unless -J is given)",
    options: [
      {
        flags: "-E, --host-script FILE",
        description: "run FILE on the first host once the cluster is up; the job ends with it",
      },
      {
        flags: "-b, --batch-script FILE",
        description:
          "run FILE in vm0 once the cluster is up (guest agent); the job ends with it (with -E too, both start then; the host script is stopped when FILE ends)",
      },
      ...LAUNCH_OPTIONS,
    ],
    notes: "Output goes to pcocc_<jobid>.out / pcocc_<jobid>.err.",
  }).action(async (args: string[]) => {
    const { batch } = await import("../../slurm/index.js");
    process.exitCode = await batch(args);
  });
}
