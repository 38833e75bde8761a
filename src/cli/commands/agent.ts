import type { Command } from "commander";
import { guestCommandOptions, runGuestCommand, type GuestCommandFlags } from "./exec.js";

interface AgentFlags {
  jobid?: string;
  jobname?: string;
  index: string;
  timeout?: string;
  json?: boolean;
}

function targetOptions(cmd: Command): Command {
  return cmd
    .option("-j, --jobid <id>", "job of the virtual cluster")
    .option("-J, --jobname <name>", "name of the job of the virtual cluster")
    .option("-i, --indices <indices>", "VMs: all, or indices such as 0-3,5", "all")
    .option("-t, --timeout <s>", "seconds each VM's agent gets to answer (default 60)");
}

async function target(o: AgentFlags & { indices?: string }) {
  const slurm = await import("../../slurm/index.js");
  return {
    slurm,
    t: {
      jobId: o.jobid,
      jobName: o.jobname,
      indices: slurm.parseIndices(o.indices ?? "all"),
      timeoutMs: slurm.parseTimeout(o.timeout),
    },
  };
}

export function register(program: Command): void {
  const agent = program.command("agent").description("Talk to the VMs' guest agents");
  targetOptions(agent.command("ping").description("Check that each VM's agent answers"))
    .option("--json", "JSON output")
    .action(async (o: AgentFlags & { indices: string }) => {
      const { slurm, t } = await target(o);
      process.exitCode = await slurm.agentPing({ ...t, json: o.json });
    });
  targetOptions(agent.command("listexec").description("List the commands each agent started"))
    .option("--json", "JSON output")
    .action(async (o: AgentFlags & { indices: string }) => {
      const { slurm, t } = await target(o);
      process.exitCode = await slurm.agentListExec({ ...t, json: o.json });
    });
  targetOptions(agent.command("writefile").description("Write a local file into every VM"))
    .argument("<src>", "local file")
    .argument("<dst>", "absolute path in the guest")
    .action(async (src: string, dst: string, o: AgentFlags & { indices: string }) => {
      const { slurm, t } = await target(o);
      process.exitCode = await slurm.agentWriteFile({ ...t, src, dst });
    });
  for (const [verb, thaw] of [
    ["freeze", false],
    ["thaw", true],
  ] as const)
    targetOptions(
      agent
        .command(verb)
        .description(
          thaw
            ? "Thaw the guests' file systems"
            : "Freeze the guests' file systems (thawed when we disconnect)",
        ),
    ).action(async (o: AgentFlags & { indices: string }) => {
      const { slurm, t } = await target(o);
      process.exitCode = await slurm.agentFreeze(t, thaw);
    });
  targetOptions(
    agent
      .command("attach")
      .description("Follow a running command (id from listexec): its output, stdin, exit status"),
  )
    .argument("<exec-id>", "the command's id, as listexec shows it")
    .option("--no-prefix", "do not prefix output lines with their VM")
    .action(async (execId: string, o: AgentFlags & { indices: string; prefix: boolean }) => {
      const { slurm, t } = await target(o);
      process.exitCode = await slurm.agentAttach({
        ...t,
        execId: slurm.parseExecId(execId),
        prefix: o.prefix ? undefined : false,
      });
    });
  // `run` takes exec's options, with pcocc's agent default of every VM
  const run = agent.command("run").description("Run a command in VMs (like exec, default every VM)");
  guestCommandOptions(run, "all").action((argv: string[], o: GuestCommandFlags) => runGuestCommand(argv, o));
}
