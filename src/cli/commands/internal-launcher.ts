import type { Command } from "commander";

/** `pcocc internal launcher`: run by salloc/sbatch on the user's behalf, never by hand. */
export function register(program: Command): void {
  const internal =
    program.commands.find((c) => c.name() === "internal") ??
    program.command("internal", { hidden: true }).description("pcocc's own building blocks");
  internal
    .command("launcher")
    .description("start the virtual cluster inside an allocation and run the user's shell or script")
    // the arguments are the front's launch request, decoded as a whole by its one owner
    .argument("[request...]", "the launch request pcocc alloc|batch encoded")
    .helpOption(false)
    .allowUnknownOption()
    .action(async (request: string[]) => {
      const [{ decodeLaunchRequest }, { runLauncher }] = await Promise.all([
        import("../../job/index.js"),
        import("../../slurm/index.js"),
      ]);
      process.exitCode = await runLauncher(decodeLaunchRequest(request));
    });
}
