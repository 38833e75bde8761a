import type { Command } from "commander";
import type { VmTargetOptions } from "../vm-target.js";

export function register(program: Command): void {
  program
    .command("monitor-cmd")
    .description("Send a command to the Qemu monitor (HMP) of VMs")
    .argument("[vms]", "VM set, e.g. vm[0-3]", "vm0")
    .argument("[cmd...]", "monitor command, e.g. info status")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("--user <user>", "owner of the job (with -j or -J)")
    .option("--state-dir <dir>", "hypervisor state directory of a single VM (on this node)")
    .action(async (vms: string, cmd: string[], opts: VmTargetOptions) => {
      const [{ locateLocalVm, parseVmSet, monitorCommand }, { hopToVmNodes }] = await Promise.all([
        import("../../vm/index.js"),
        import("../vm-target.js"),
      ]);
      const { ranks, jobId, hopCodes } = await hopToVmNodes(
        parseVmSet(vms),
        opts,
        (set) => ["monitor-cmd", set, ...cmd],
        { pty: false },
      );
      if (hopCodes.some((c) => c !== 0)) process.exitCode = 255;
      const outputs = await Promise.all(
        ranks.map(async (rank) => {
          const ep = await locateLocalVm({ vm: `vm${rank}`, jobId, stateDir: opts.stateDir });
          return monitorCommand(ep.paths.qmpSocket, cmd.join(" "));
        }),
      );
      // Identical answers are printed once, under the list of VMs that gave them.
      const groups = new Map<string, number[]>();
      outputs.forEach((out, i) => groups.set(out, [...(groups.get(out) ?? []), ranks[i] as number]));
      for (const [out, rs] of groups) {
        const who = rs.length === 1 ? `vm${rs[0]}` : `vm[${rs.join(",")}]`;
        process.stdout.write(`${who}:\n${out.endsWith("\n") || out === "" ? out : `${out}\n`}`);
      }
    });
}
