import type { Command } from "commander";

type TargetOpts = { jobid?: string; jobname?: string; user?: string };

export function register(program: Command): void {
  program
    .command("reset")
    .description("Reset VMs (like the reset button; the disk keeps its state)")
    .argument("[vms]", "VM set, e.g. vm[0-3]", "vm0")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("--user <user>", "owner of the job (with -j or -J)")
    .option("--state-dir <dir>", "hypervisor state directory of a single VM (on this node)")
    .action(async (vms: string, opts: TargetOpts & { stateDir?: string }) => {
      const { locateLocalVm, parseVmSet, resetVm } = await import("../../vm/index.js");
      const start = Date.now();
      let ranks = parseVmSet(vms);
      let jobId = opts.jobid;
      if (!opts.stateDir) {
        // job targeting; VMs on other nodes are reset by running this verb there, inside the job
        const { placeVms, hopToNode, vmSet } = await import("../../slurm/index.js");
        const p = await placeVms({ jobId: opts.jobid, jobName: opts.jobname, user: opts.user }, ranks);
        const codes = await Promise.all(
          [...p.remote].map(([node, rs]) => hopToNode(p, node, ["reset", vmSet(rs)], { pty: false })),
        );
        if (codes.some((c) => c !== 0)) process.exitCode = 255;
        ranks = p.local;
        jobId = p.jobId;
        if (ranks.length === 0) return;
      }
      await Promise.all(
        ranks.map(async (rank) => {
          const ep = await locateLocalVm({ vm: `vm${rank}`, jobId, stateDir: opts.stateDir });
          await resetVm(ep.paths.qmpSocket);
        }),
      );
      process.stdout.write(`${ranks.length} VMs reset in ${((Date.now() - start) / 1000).toFixed(2)}s\n`);
    });
}
