import type { Command } from "commander";

/** `pcocc internal run`: one hypervisor per SLURM task; `--spec` runs one VM from a JSON VmSpec instead. */
export function register(program: Command): void {
  const internal =
    program.commands.find((c) => c.name() === "internal") ??
    program.command("internal", { hidden: true }).description("pcocc's own building blocks");
  internal
    .command("run")
    .description("run the hypervisor of one VM (started by srun inside the job)")
    .option("--spec <file>", "run the VM described by this JSON VmSpec (outside SLURM)")
    .action(async (opts: { spec?: string }) => {
      if (opts.spec) {
        const { readFile } = await import("node:fs/promises");
        const { runHypervisor, parseVmSpec } = await import("../../vm/index.js");
        const { PcoccError } = await import("../../util/index.js");
        const text = await readFile(opts.spec, "utf8").catch((err: Error) => {
          throw new PcoccError(`unable to read VM spec ${opts.spec}: ${err.message}`);
        });
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (err) {
          throw new PcoccError(`${opts.spec}: invalid JSON: ${(err as Error).message}`);
        }
        const spec = parseVmSpec(json, opts.spec);
        process.exitCode = await runHypervisor(spec);
        return;
      }
      const { runVmTask } = await import("../../slurm/index.js");
      process.exitCode = await runVmTask();
    });
}
