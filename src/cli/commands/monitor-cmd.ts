import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("monitor-cmd")
    .description("Send a command to the Qemu monitor (HMP) of VMs")
    .argument("[vms]", "VM set, e.g. vm[0-3]", "vm0")
    .argument("[cmd...]", "monitor command, e.g. info status")
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("--state-dir <dir>", "hypervisor state directory of a single VM (on this node)")
    .action(async (vms: string, cmd: string[], opts: { jobid?: string; stateDir?: string }) => {
      const { locateLocalVm, parseVmSet, monitorCommand } = await import("../../vm/index.js");
      const ranks = parseVmSet(vms);
      const outputs = await Promise.all(
        ranks.map(async (rank) => {
          const ep = await locateLocalVm({ vm: `vm${rank}`, jobId: opts.jobid, stateDir: opts.stateDir });
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
