import type { Command } from "commander";
import type { VmTargetOptions } from "../vm-target.js";

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
    .action(async (vm: string, opts: VmTargetOptions & { log?: boolean }) => {
      const [{ attachConsole, printConsoleLog }, { localVmOrHop }] = await Promise.all([
        import("../../vm/index.js"),
        import("../vm-target.js"),
      ]);
      const ep = await localVmOrHop(vm, opts, ["console", vm, ...(opts.log ? ["-l"] : [])], {
        // a terminal (if we have one) for the interactive console, none to print its log
        pty: !opts.log,
        waitRunning: !opts.log,
      });
      if (!ep) return;
      if (opts.log) await printConsoleLog(ep.paths.consoleLog);
      else await attachConsole(ep.paths.consoleSocket);
      process.stdin.pause();
    });
}
