import { resolve } from "node:path";
import type { Command } from "commander";
import { PcoccError } from "../../util/index.js";
import type { VmTargetOptions } from "../vm-target.js";

interface SaveOptions extends VmTargetOptions {
  dest?: string;
  full?: boolean;
  safe?: boolean;
  driveIndex?: string;
}

function parseDriveIndex(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d{1,4}$/.test(value)) throw new PcoccError(`-i ${value}: expected a drive index (0, 1, ...)`);
  return Number(value);
}

export function register(program: Command): void {
  program
    .command("save")
    .description("Save the disk of a running VM as a new image revision")
    .argument("[vm]", "VM name", "vm0")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("--user <user>", "owner of the job (with -j or -J)")
    .option("--state-dir <dir>", "the VM's hypervisor state directory (on this node)")
    .option(
      "-d, --dest <uri>",
      "save to this image (or new image directory) instead of a new revision of the VM's image",
    )
    .option("--full", "save a standalone image instead of only the changes since boot")
    .option("-s, --safe", "freeze the guest's file systems (through its agent) while the copy starts")
    .option("-i, --drive-index <n>", "drive to save: 0 the boot disk, then the persistent drives (default 0)")
    .action(async (vm: string, opts: SaveOptions) => {
      const driveIndex = parseDriveIndex(opts.driveIndex);
      // `-d DIR` (a new directory image) is written on the VM's node: relative to where the user is here
      if (opts.dest?.includes("/")) opts.dest = resolve(opts.dest);
      const [{ loadConfig }, { saveRevision }, { progressLine }, { localVmOrHop }] = await Promise.all([
        import("../../config/index.js"),
        import("../../vm/index.js"),
        import("../../util/index.js"),
        import("../vm-target.js"),
      ]);
      const hopArgs = ["save", vm, ...(opts.dest ? ["-d", opts.dest] : []), ...(opts.full ? ["--full"] : [])];
      if (opts.safe) hopArgs.push("-s");
      if (opts.driveIndex !== undefined) hopArgs.push("-i", String(driveIndex));
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
          driveIndex,
          onProgress: (p) => bar.update(p.done, p.total),
        }),
      );
      bar.end();
      process.stdout.write(`${ep.name} disk successfully saved to ${rev.uri} revision ${rev.revision}\n`);
    });
}
