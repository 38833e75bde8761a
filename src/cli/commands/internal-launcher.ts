import type { Command } from "commander";

const collect = (v: string, prev: string[]) => [...prev, v];

/** `pcocc internal launcher`: run by salloc/sbatch on the user's behalf, never by hand. */
export function register(program: Command): void {
  const internal =
    program.commands.find((c) => c.name() === "internal") ??
    program.command("internal", { hidden: true }).description("pcocc's own building blocks");
  internal
    .command("launcher")
    .description("start the virtual cluster inside an allocation and run the user's shell or script")
    .option("-E, --alloc-script <script>", "command run instead of an interactive shell")
    .option("-b, --batch-script <file>", "script run in vm0 (through the guest agent) instead of a shell")
    .option("-w, --wait", "no shell: keep the cluster until its VMs stop or the job ends")
    .option("--user-data <file>", "cloud-init user-data for every VM")
    .option("--mount <spec>", "host directory shared with the VMs", collect, [])
    .option("--image <spec>", "[TPL=]IMAGE: boot TPL's VMs from IMAGE", collect, [])
    .option("-r, --restart-ckpt <dir>", "resume the VMs from the checkpoint in this directory")
    .argument("<definition>", "cluster definition")
    .action(
      async (
        definition: string,
        opts: {
          allocScript?: string;
          batchScript?: string;
          wait?: boolean;
          userData?: string;
          mount: string[];
          image: string[];
          restartCkpt?: string;
        },
      ) => {
        const { runLauncher } = await import("../../slurm/index.js");
        process.exitCode = await runLauncher({
          definition,
          script: opts.allocScript,
          batchScript: opts.batchScript,
          wait: opts.wait,
          userData: opts.userData,
          mounts: opts.mount,
          images: opts.image,
          restartDir: opts.restartCkpt,
        });
      },
    );
}
