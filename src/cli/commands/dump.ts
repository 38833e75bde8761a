import type { Command } from "commander";
import type { VmTargetOptions } from "../vm-target.js";

export function register(program: Command): void {
  program
    .command("dump")
    .description("Dump the memory of a VM to an ELF core file (written on the VM's node)")
    .argument("<vm>", "VM name")
    .argument("<file>", "output file")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("--user <user>", "owner of the job (with -j or -J)")
    .option("--state-dir <dir>", "the VM's hypervisor state directory (on this node)")
    .action(async (vm: string, file: string, opts: VmTargetOptions) => {
      const [{ resolve }, { dumpMemory }, { progressLine }, { localVmOrHop }] = await Promise.all([
        import("node:path"),
        import("../../vm/index.js"),
        import("../../util/index.js"),
        import("../vm-target.js"),
      ]);
      // the VM's node may run the dump from another directory
      const path = resolve(file);
      const ep = await localVmOrHop(vm, opts, ["dump", vm, path], { pty: false });
      if (!ep) return;
      const bar = progressLine("Dumping memory");
      await dumpMemory(ep.paths.qmpSocket, path, (p) => bar.update(p.done, p.total));
      bar.end();
    });
}
