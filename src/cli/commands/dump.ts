import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("dump")
    .description("Dump the memory of a VM to an ELF core file (written on the VM's node)")
    .argument("<vm>", "VM name")
    .argument("<file>", "output file")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("--state-dir <dir>", "the VM's hypervisor state directory (on this node)")
    .action(async (vm: string, file: string, opts: { jobid?: string; stateDir?: string }) => {
      const { resolve } = await import("node:path");
      const { locateLocalVm, dumpMemory, progressLine } = await import("../../vm/index.js");
      const ep = await locateLocalVm({ vm, jobId: opts.jobid, stateDir: opts.stateDir });
      const bar = progressLine("Dumping memory");
      await dumpMemory(ep.paths.qmpSocket, resolve(file), (p) => bar.update(p.done, p.total));
      bar.end();
    });
}
