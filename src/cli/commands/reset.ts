import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("reset")
    .description("Reset VMs (like the reset button; the disk keeps its state)")
    .argument("[vms]", "VM set, e.g. vm[0-3]", "vm0")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("--state-dir <dir>", "hypervisor state directory of a single VM (on this node)")
    .action(async (vms: string, opts: { jobid?: string; stateDir?: string }) => {
      const { locateLocalVm, parseVmSet, resetVm } = await import("../../vm/index.js");
      const start = Date.now();
      const ranks = parseVmSet(vms);
      await Promise.all(
        ranks.map(async (rank) => {
          const ep = await locateLocalVm({ vm: `vm${rank}`, jobId: opts.jobid, stateDir: opts.stateDir });
          await resetVm(ep.paths.qmpSocket);
        }),
      );
      process.stdout.write(`${ranks.length} VMs reset in ${((Date.now() - start) / 1000).toFixed(2)}s\n`);
    });
}
