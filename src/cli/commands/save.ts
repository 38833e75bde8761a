import type { Command } from "commander";
import type { VmTargetOptions } from "../vm-target.js";

export function register(program: Command): void {
  program
    .command("save")
    .description("Save the disk of a running VM as a new image revision")
    .argument("[vm]", "VM name", "vm0")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("--user <user>", "owner of the job (with -j or -J)")
    .option("--state-dir <dir>", "the VM's hypervisor state directory (on this node)")
    .option("-d, --dest <uri>", "save to this image instead of a new revision of the VM's image")
    .option("--full", "save a standalone image instead of only the changes since boot")
    .option("-s, --safe", "freeze the guest's file systems (through its agent) while the copy starts")
    .action(async (vm: string, opts: VmTargetOptions & { dest?: string; full?: boolean; safe?: boolean }) => {
      const [{ loadConfig }, { saveRevision }, { progressLine }, { localVmOrHop }] = await Promise.all([
        import("../../config/index.js"),
        import("../../vm/index.js"),
        import("../../util/index.js"),
        import("../vm-target.js"),
      ]);
      const hopArgs = ["save", vm, ...(opts.dest ? ["-d", opts.dest] : []), ...(opts.full ? ["--full"] : [])];
      if (opts.safe) hopArgs.push("-s");
      const ep = await localVmOrHop(vm, opts, hopArgs, { pty: false });
      if (!ep) return;
      const config = await loadConfig();
      const { interruptible } = await import("../interrupt.js");
      const bar = progressLine("Copying drive data...");
      const rev = await interruptible("save", (signal) =>
        saveRevision(config, ep, {
          full: opts.full,
          dest: opts.dest,
          safe: opts.safe ? { warn: (line) => process.stderr.write(`pcocc: ${line}\n`) } : undefined,
          signal,
          onProgress: (p) => bar.update(p.done, p.total),
        }),
      );
      bar.end();
      process.stdout.write(`${ep.name} disk successfully saved to ${rev.uri} revision ${rev.revision}\n`);
    });
}
