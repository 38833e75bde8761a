import type { Command } from "commander";
import type { VmTargetOptions } from "../vm-target.js";

export function register(program: Command): void {
  program
    .command("reset")
    .description("Reset VMs (like the reset button; the disk keeps its state)")
    .argument("[vms]", "VM set, e.g. vm[0-3]", "vm0")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("--user <user>", "owner of the job (with -j or -J)")
    .option("--state-dir <dir>", "hypervisor state directory of a single VM (on this node)")
    .action(async (vms: string, opts: VmTargetOptions) => {
      const [{ locateLocalVm, parseVmSet, resetVm }, { hopToVmNodes }] = await Promise.all([
        import("../../vm/index.js"),
        import("../vm-target.js"),
      ]);
      const start = Date.now();
      const { ranks, jobId, hopCodes } = await hopToVmNodes(parseVmSet(vms), opts, (set) => ["reset", set], {
        pty: false,
      });
      if (hopCodes.some((c) => c !== 0)) process.exitCode = 255;
      if (ranks.length === 0) return;
      await Promise.all(
        ranks.map(async (rank) => {
          const ep = await locateLocalVm({ vm: `vm${rank}`, jobId, stateDir: opts.stateDir });
          await resetVm(ep.paths.qmpSocket);
        }),
      );
      process.stdout.write(`${ranks.length} VMs reset in ${((Date.now() - start) / 1000).toFixed(2)}s\n`);
    });
}
