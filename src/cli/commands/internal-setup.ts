import type { Command } from "commander";

/**
 * `pcocc internal setup init|cleanup|create|delete` (root). init/cleanup: node-level network objects (admin,
 * systemd unit). create/delete: one job's networks on this node, called by the SPANK plugin with the job's
 * SLURM_* variables and SPANK_PCOCC_SETUP in a clean environment.
 */
export function register(program: Command): void {
  const internal =
    program.commands.find((c) => c.name() === "internal") ??
    program.command("internal", { hidden: true }).description("pcocc's own building blocks");
  internal
    .command("setup")
    .description("privileged node setup (root): init | cleanup | create | delete")
    .argument("<action>", "init, cleanup, create or delete")
    .option("--ovsdb-socket <path>", "Open vSwitch database socket", "/run/openvswitch/db.sock")
    .action(async (action: string, opts: { ovsdbSocket: string }) => {
      const { PcoccError } = await import("../../util/index.js");
      if (!["init", "cleanup", "create", "delete"].includes(action))
        throw new PcoccError(`unknown setup action '${action}' (init, cleanup, create or delete)`);
      if (process.getuid?.() !== 0) throw new PcoccError("pcocc internal setup must run as root");
      const { loadConfig } = await import("../../config/index.js");
      const jobs = await import("../../job/index.js");
      const net = await import("../../net/index.js");
      const vm = await import("../../vm/index.js");
      const config = await loadConfig({ user: false });
      const so = { ovsdbSocket: opts.ovsdbSocket };
      switch (action) {
        case "init":
          await net.setupInit(config, so);
          break;
        case "cleanup": {
          const liveJobs = await (await import("../../slurm/index.js")).liveJobIds();
          const { reclaimed, kept, strays } = await net.setupCleanup(config, { ...so, liveJobs });
          for (const id of await vm.jobStateDirIds())
            if (!liveJobs.includes(id)) await vm.removeJobStateDir(id);
          if (reclaimed.length) console.error(`Deleted leftovers of jobs ${reclaimed.join(", ")}`);
          if (kept.length)
            console.error(
              `Kept the network objects of running jobs ${kept.join(", ")} and the node-level rules they use`,
            );
          const n = Object.values(strays).flat().length;
          if (n) console.error(`Deleted ${n} leftover objects: ${Object.values(strays).flat().join(" ")}`);
          break;
        }
        case "create": {
          const job = jobs.setupCreateJobFromEnv(process.env);
          await vm.createJobStateDir(job);
          // a create that fails leaves nothing, its VM state directory included
          await jobs
            .beginJobOnNode(config, job, (handle) => net.setupCreate(config, job, handle, so))
            .catch(async (err: unknown) => {
              await vm.removeJobStateDir(job.jobId);
              throw err;
            });
          break;
        }
        case "delete": {
          const job = jobs.setupIdentityFromEnv(process.env);
          try {
            await jobs.endJobOnNode(config, job, (ks) => net.setupDelete(config, job, ks, so));
          } finally {
            await vm.removeJobStateDir(job.jobId);
          }
          break;
        }
      }
    });
}
