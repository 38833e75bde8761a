import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("ps")
    .description("List running virtual clusters")
    .option("-u, --user <user>", "list the clusters of this user")
    .option("-a, --all", "list the clusters of all users")
    .option("--json", "machine-readable output")
    .action(async (opts: { user?: string; all?: boolean; json?: boolean }) => {
      const [{ listClusters, formatClusterTable }, { clusterRowJson }] = await Promise.all([
        import("../../slurm/index.js"),
        import("../ps-json.js"),
      ]);
      const rows = await listClusters({ ...opts, timing: opts.json === true });
      process.stdout.write(
        opts.json ? `${JSON.stringify(rows.map(clusterRowJson), null, 2)}\n` : formatClusterTable(rows),
      );
    });
}
