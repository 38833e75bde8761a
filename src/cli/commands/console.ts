import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("console")
    .description("Connect to a VM console (three Ctrl-C within 2 s detach)")
    .argument("[vm]", "VM name", "vm0")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("--state-dir <dir>", "the VM's hypervisor state directory (on this node)")
    .option("-l, --log", "print the console log instead of attaching")
    .action(async (vm: string, opts: { jobid?: string; stateDir?: string; log?: boolean }) => {
      const { locateLocalVm, attachConsole, printConsoleLog } = await import("../../vm/index.js");
      const ep = await locateLocalVm({ vm, jobId: opts.jobid, stateDir: opts.stateDir });
      if (opts.log) await printConsoleLog(ep.paths.consoleLog);
      else await attachConsole(ep.paths.consoleSocket);
      process.stdin.pause();
    });
}
