import { Option, type Command } from "commander";
import type { CheckpointCliOptions } from "../checkpoint.js";

export function register(program: Command): void {
  program
    .command("ckpt")
    .description("Checkpoint every VM of a virtual cluster (disk and memory) into DIR, then end the cluster")
    .argument("<dir>", "checkpoint directory (restart with pcocc alloc|batch -r DIR <same definition>)")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("--user <user>", "owner of the job (with -j or -J)")
    .option("-F, --force", "overwrite an existing checkpoint in DIR")
    .option("--state-dir <dir>", "checkpoint only the VM with this hypervisor state directory (on this node)")
    // set by the node a checkpoint hopped from: these VMs of this node, into a directory already prepared
    .addOption(new Option("--vms <set>").hideHelp())
    .action(async (dir: string, opts: CheckpointCliOptions) => {
      const { checkpointCluster } = await import("../checkpoint.js");
      process.exitCode = await checkpointCluster(dir, opts);
    });
}
