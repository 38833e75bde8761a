import { Option, type Command } from "commander";
import type { VmTargetOptions } from "../vm-target.js";

interface DisplayOptions extends VmTargetOptions {
  print_opts?: boolean;
  pipe?: boolean;
  check?: boolean;
}

/** The options that name the same VM again in the relay's children. */
function targetArgs(o: VmTargetOptions): string[] {
  return [
    ...(o.jobid ? ["-j", o.jobid] : []),
    ...(o.jobname ? ["-J", o.jobname] : []),
    ...(o.user ? ["--user", o.user] : []),
    ...(o.stateDir ? ["--state-dir", o.stateDir] : []),
  ];
}

export function register(program: Command): void {
  program
    .command("display")
    .description("Show the remote display (SPICE) of a VM whose template has remote-display: spice")
    .argument("[vm]", "VM name", "vm0")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("--user <user>", "owner of the job (with -j or -J)")
    .option("--state-dir <dir>", "the VM's hypervisor state directory (on this node)")
    .option("-p, --print_opts", "print the address for a SPICE client instead of starting remote-viewer")
    .addOption(new Option("--pipe", "stdin/stdout to the VM's SPICE server").hideHelp())
    .addOption(new Option("--check", "only check that the VM has a remote display").hideHelp())
    .action(async (vm: string, opts: DisplayOptions) => {
      const [{ pipeSpice, requireSpice, serveSpiceRelay }, { localVmOrHop }] = await Promise.all([
        import("../../vm/index.js"),
        import("../vm-target.js"),
      ]);
      const mode = opts.pipe ? "--pipe" : "--check";
      const ep = await localVmOrHop(vm, opts, ["display", vm, mode], { pty: false });
      if (ep) requireSpice(ep);
      if (opts.pipe && ep) return pipeSpice(ep);
      if (opts.pipe || opts.check || (process.exitCode ?? 0) !== 0) return;
      const self = [process.execPath, process.argv[1]!, "display", vm, "--pipe", ...targetArgs(opts)];
      const relay = await serveSpiceRelay(self);
      try {
        await showDisplay(relay.uri, opts.print_opts === true);
      } finally {
        await relay.close();
      }
    });
}

/** `-p`: the address, the relay serving until interrupted; otherwise remote-viewer, for as long as it runs. */
async function showDisplay(uri: string, print: boolean): Promise<void> {
  const [{ spawn }, { PcoccError }] = await Promise.all([
    import("node:child_process"),
    import("../../util/index.js"),
  ]);
  if (print) {
    process.stdout.write(`${uri}\n`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const viewer = spawn("remote-viewer", [uri], { stdio: "inherit" });
    viewer.once("error", (err) =>
      reject(new PcoccError(`cannot start remote-viewer (${err.message}): install virt-viewer or use -p`)),
    );
    viewer.once("exit", () => resolve());
  });
}
