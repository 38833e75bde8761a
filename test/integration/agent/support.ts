import {
  connectAgent,
  type AgentClient,
  type ExecOptions,
  type ExecResult,
} from "../../../src/agent/index.js";
import { vmStatePaths } from "../../../src/vm/index.js";
import { waitForConsole, type RunningVm } from "../vm/support.js";

/** The agent socket the hypervisor gives a VM, inside its state directory. */
export function agentSocket(stateDir: string): string {
  return vmStatePaths(stateDir).agentSocket;
}

/** Waits for the agent's own console line (QEMU and the socket exist by then), then for its hello. */
export async function agentOf(vm: RunningVm, stateDir: string, name: string): Promise<AgentClient> {
  await waitForConsole(vm, /pcocc-agent: serving org\.pcocc\.agent\.0/, 600_000);
  const { client } = await connectAgent(agentSocket(stateDir), { vm: name, timeoutMs: 60_000 });
  return client;
}

/** Runs a command to its end, collecting its output. */
export async function run(
  agent: AgentClient,
  argv: string[],
  opts: Omit<ExecOptions, "argv"> = {},
): Promise<{ stdout: string; stderr: string; result: ExecResult }> {
  let stdout = "";
  let stderr = "";
  const e = await agent.exec({
    ...opts,
    argv,
    onStdout: (d) => (stdout += d.toString()),
    onStderr: (d) => (stderr += d.toString()),
  });
  return { result: await e.result, stdout, stderr };
}
