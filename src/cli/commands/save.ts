import type { Command } from "commander";

type TargetOpts = { jobid?: string; jobname?: string; user?: string };

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
    .action(async (vm: string, opts: TargetOpts & { stateDir?: string; dest?: string; full?: boolean }) => {
      const { loadConfig } = await import("../../config/index.js");
      const { locateLocalVm, saveRevision, progressLine, parseVmName } = await import("../../vm/index.js");
      let jobId = opts.jobid;
      if (!opts.stateDir) {
        // job targeting; a VM on another node is saved by running this verb there, inside the job
        const { placeVms, hopToNode } = await import("../../slurm/index.js");
        const p = await placeVms({ jobId: opts.jobid, jobName: opts.jobname, user: opts.user }, [
          parseVmName(vm),
        ]);
        const [node] = p.remote.keys();
        if (node !== undefined) {
          const args = [
            "save",
            vm,
            ...(opts.dest ? ["-d", opts.dest] : []),
            ...(opts.full ? ["--full"] : []),
          ];
          process.exitCode = await hopToNode(p, node, args, { pty: false });
          return;
        }
        jobId = p.jobId;
      }
      const [config, ep] = await Promise.all([
        loadConfig(),
        locateLocalVm({ vm, jobId, stateDir: opts.stateDir }),
      ]);
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        const bar = progressLine("Copying drive data...");
        const rev = await saveRevision(config, ep, {
          full: opts.full,
          dest: opts.dest,
          signal: abort.signal,
          onProgress: (p) => bar.update(p.done, p.total),
        });
        bar.end();
        process.stdout.write(`${ep.name} disk successfully saved to ${rev.uri} revision ${rev.revision}\n`);
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
