import type { Command } from "commander";

type TargetOpts = { jobid?: string; jobname?: string; user?: string };

export function register(program: Command): void {
  program
    .command("console")
    .description("Connect to a VM console (three Ctrl-C within 2 s detach)")
    .argument("[vm]", "VM name", "vm0")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("--user <user>", "owner of the job (with -j or -J)")
    .option("--state-dir <dir>", "the VM's hypervisor state directory (on this node)")
    .option("-l, --log", "print the console log instead of attaching")
    .action(async (vm: string, opts: TargetOpts & { stateDir?: string; log?: boolean }) => {
      const { locateLocalVm, attachConsole, printConsoleLog, parseVmName } =
        await import("../../vm/index.js");
      let jobId = opts.jobid;
      if (!opts.stateDir) {
        // job targeting; a VM on another node is reached by running this verb there, inside the job
        const { placeVms, hopToNode } = await import("../../slurm/index.js");
        const p = await placeVms({ jobId: opts.jobid, jobName: opts.jobname, user: opts.user }, [
          parseVmName(vm),
        ]);
        const [node] = p.remote.keys();
        if (node !== undefined) {
          const args = ["console", vm, ...(opts.log ? ["-l"] : [])];
          process.exitCode = await hopToNode(p, node, args, { pty: process.stdin.isTTY === true });
          return;
        }
        jobId = p.jobId;
      }
      const ep = await locateLocalVm({ vm, jobId, stateDir: opts.stateDir });
      if (opts.log) await printConsoleLog(ep.paths.consoleLog);
      else await attachConsole(ep.paths.consoleSocket);
      process.stdin.pause();
    });
}
