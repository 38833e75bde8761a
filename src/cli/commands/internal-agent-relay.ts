import type { Command } from "commander";

/**
 * `pcocc internal agent-relay -j JOB VMS`: started by the CLI inside the job on a VM's node (one per node),
 * carries that node's VMs' agent streams over stdin/stdout (src/agent/relay.ts).
 */
export function register(program: Command): void {
  const internal =
    program.commands.find((c) => c.name() === "internal") ??
    program.command("internal", { hidden: true }).description("pcocc's own building blocks");
  internal
    .command("agent-relay")
    .description("relay this node's VMs' guest agents over stdin/stdout (started by pcocc exec)")
    .requiredOption("-j, --jobid <id>", "job of the virtual cluster")
    .argument("<vms>", "VM set on this node, e.g. vm[0,1]")
    .action(async (vms: string, o: { jobid: string }) => {
      const [{ serveRelay }, { locateLocalVm, parseVmSet }] = await Promise.all([
        import("../../agent/index.js"),
        import("../../vm/index.js"),
      ]);
      // a Ctrl-C meant for the CLI must not cut the streams that carry its kills
      process.on("SIGINT", () => undefined);
      const targets = await Promise.all(
        parseVmSet(vms).map(async (rank) => {
          try {
            const ep = await locateLocalVm({ vm: `vm${rank}`, jobId: o.jobid });
            return { rank, socketPath: ep.paths.agentSocket };
          } catch (err) {
            return { rank, error: (err as Error).message };
          }
        }),
      );
      await serveRelay(process.stdin, process.stdout, targets);
    });
}
