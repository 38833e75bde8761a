import { readFile, stat } from "node:fs/promises";
import type { AgentClient } from "../agent/index.js";
import { PcoccError } from "../util/index.js";
import { groupedMessage, requireAgents, type ReachedAgents } from "./agent-reach.js";
import { withAgents, type AgentTargetOptions } from "./exec.js";
import { attachInGuests } from "./guest-exec.js";

/**
 * `pcocc agent ping|listexec|writefile|freeze|thaw`: one request to every targeted VM at once. Each VM's
 * answer is printed on its own line; the VMs that failed are named on one line on stderr and the exit
 * status is then 255.
 */
async function eachVm<T>(
  o: AgentTargetOptions,
  request: (client: AgentClient, reached: ReachedAgents, rank: number) => Promise<T>,
): Promise<{ results: Map<number, T>; failed: Map<string, number[]> }> {
  return withAgents(o, async (reached) => {
    const results = new Map<number, T>();
    const failed = new Map<string, number[]>();
    const fail = (rank: number, err: Error) => {
      const why = err.message.replace(new RegExp(`^vm${rank}: `), "");
      failed.set(why, [...(failed.get(why) ?? []), rank]);
    };
    await Promise.all(
      [...reached.agents].map(async ([rank, a]) => {
        if (a instanceof Error) return fail(rank, a);
        await request(a.client, reached, rank).then(
          (v) => results.set(rank, v),
          (err: Error) => fail(rank, err),
        );
      }),
    );
    return { results: new Map([...results].sort(([a], [b]) => a - b)), failed };
  });
}

function report(failed: Map<string, number[]>): number {
  if (failed.size === 0) return 0;
  process.stderr.write(`pcocc: ${groupedMessage(failed)}\n`);
  return 255;
}

export async function agentPing(o: AgentTargetOptions & { json?: boolean }): Promise<number> {
  const { results, failed } = await eachVm(o, async (client) => {
    const t0 = process.hrtime.bigint();
    const pong = await client.ping();
    return { ...pong, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
  });
  const rows = [...results].map(([rank, r]) => ({ vm: `vm${rank}`, ...r }));
  if (o.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
  else
    for (const r of rows)
      process.stdout.write(
        `${r.vm}: ${r.version} on ${r.hostname}, ${r.cpus} CPUs (${r.ms.toFixed(1)} ms)\n`,
      );
  return report(failed);
}

export async function agentListExec(o: AgentTargetOptions & { json?: boolean }): Promise<number> {
  const { results, failed } = await eachVm(o, (client) => client.listExec());
  if (o.json)
    process.stdout.write(
      `${JSON.stringify([...results].map(([rank, execs]) => ({ vm: `vm${rank}`, execs })))}\n`,
    );
  else
    for (const [rank, execs] of results)
      for (const e of execs)
        process.stdout.write(
          `vm${rank}: ${e.id} pid ${e.pid} ${e.exited ? "exited" : "running"} ${e.command}\n`,
        );
  return report(failed);
}

export async function agentWriteFile(o: AgentTargetOptions & { src: string; dst: string }): Promise<number> {
  if (!o.dst.startsWith("/"))
    throw new PcoccError(`writefile: ${o.dst}: the destination must be an absolute path`);
  const content = await readFile(o.src).catch((err: NodeJS.ErrnoException) => {
    throw new PcoccError(`writefile: cannot read ${o.src}: ${err.code ?? err.message}`);
  });
  const mode = (await stat(o.src)).mode & 0o7777;
  const { results, failed } = await eachVm(o, (client) => client.writeFile(o.dst, content, mode));
  process.stdout.write(`${o.dst} written in ${results.size} VMs\n`);
  return report(failed);
}

export async function agentFreeze(o: AgentTargetOptions, thaw: boolean): Promise<number> {
  const { results, failed } = await eachVm(o, (client) => (thaw ? client.thaw() : client.freeze()));
  for (const [rank, n] of results)
    process.stdout.write(`vm${rank}: ${n} file systems ${thaw ? "thawed" : "frozen"}\n`);
  return report(failed);
}

/** `EXEC_ID` of `agent attach`: a command id as `agent listexec` shows it. */
export function parseExecId(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 0xffffffff)
    throw new PcoccError(`attach: ${value}: expected a command id as 'pcocc agent listexec' shows it`);
  return Number(value);
}

/**
 * `pcocc agent attach EXEC_ID`: follows that command in the targeted VMs (output from now on, stdin,
 * Ctrl-C kills it) until it ends; its exit status is ours. Whoever followed it before is detached.
 */
export async function agentAttach(
  o: AgentTargetOptions & { execId: number; prefix?: boolean },
): Promise<number> {
  return withAgents(o, async (reached) => {
    const clients = requireAgents(reached);
    return attachInGuests(clients, o.execId, {
      prefix: o.prefix ?? clients.size > 1,
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
    });
  });
}
