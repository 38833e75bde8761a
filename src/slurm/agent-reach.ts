import type { ChildProcess } from "node:child_process";
import {
  agentHandshake,
  connectAgent,
  RelayLink,
  type AgentClient,
  type PingResult,
} from "../agent/index.js";
import { PcoccError } from "../util/index.js";
import { defaultVmStateDir, vmStatePaths } from "../vm/index.js";
import { pcoccCommand } from "./pcocc-command.js";
import { spawnOnVmNode } from "./remote.js";
import type { JobTargetOptions } from "./target.js";
import { placeVms, vmSet } from "./vm-placement.js";

/** Relays started at once: each is one srun into the job; the VMs behind one relay are reached together. */
const RELAY_CONCURRENCY = 16;
/** How long a relay gets to exit once its stdin is closed, before it is killed. */
const RELAY_EXIT_MS = 5_000;

export interface ReachedAgents {
  jobId: string;
  /** Every VM asked for, by rank: its agent, or why it could not be reached (the message names the VM). */
  agents: Map<number, { client: AgentClient; hello: PingResult } | Error>;
  /** Closes every connection and waits for the relays to end. */
  close(): Promise<void>;
}

/**
 * Connects to the guest agents of `which` VMs of the target job: those on this node through their
 * sockets, those elsewhere through one relay per node (`pcocc internal agent-relay` in an overlapping
 * step), all at once, so the cost is about one round whatever the number of VMs. An agent that does not
 * say hello within `timeoutMs` is reported, not waited for.
 */
export async function reachAgents(
  target: JobTargetOptions,
  which: number[] | "all",
  { timeoutMs }: { timeoutMs: number },
): Promise<ReachedAgents> {
  const placement = await placeVms(target, which);
  const agents: ReachedAgents["agents"] = new Map();
  const relays: Array<{ link: RelayLink; child: ChildProcess }> = [];
  const settle = async (rank: number, p: Promise<{ client: AgentClient; hello: PingResult }>) => {
    agents.set(rank, await p.catch((err: Error) => err));
  };
  const local = placement.local.map((rank) =>
    settle(
      rank,
      connectAgent(vmStatePaths(defaultVmStateDir(placement.jobId, rank)).agentSocket, {
        vm: `vm${rank}`,
        timeoutMs,
      }),
    ),
  );
  const nodes = [...placement.remote];
  const remote = inBatches(nodes, RELAY_CONCURRENCY, async ([node, ranks]) => {
    const child = spawnOnVmNode(
      { jobId: placement.jobId, node },
      pcoccCommand("internal", "agent-relay", "-j", placement.jobId, vmSet(ranks)),
    );
    const link = new RelayLink(child.stdin!, child.stdout!, ranks);
    relays.push({ link, child });
    const ended = (why: string) =>
      link.fail(new Error(`the agent relay on ${node} ${why} (see the messages above)`));
    child.on("error", (err) => ended(`could not start: ${err.message}`));
    child.on("exit", (code, signal) => ended(`ended (${signal ?? `exit ${code}`})`));
    await Promise.all(
      ranks.map((rank) =>
        settle(rank, agentHandshake(link.stream(rank), "ready", { vm: `vm${rank}`, timeoutMs })),
      ),
    );
  });
  await Promise.all([...local, remote]);
  return {
    jobId: placement.jobId,
    agents,
    close: async () => {
      for (const a of agents.values()) if (!(a instanceof Error)) a.client.close();
      await Promise.all(relays.map(({ link, child }) => endRelay(link, child)));
    },
  };
}

async function endRelay(link: RelayLink, child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  link.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), RELAY_EXIT_MS);
  await exited;
  clearTimeout(timer);
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function inBatches<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The agents of `reached`, or one error naming every VM that could not be reached, grouped by reason.
 */
export function requireAgents(reached: ReachedAgents): Map<number, AgentClient> {
  const failed = new Map<string, number[]>();
  const clients = new Map<number, AgentClient>();
  for (const [rank, a] of reached.agents) {
    if (a instanceof Error) {
      const why = a.message.replace(new RegExp(`^vm${rank}: `), "");
      failed.set(why, [...(failed.get(why) ?? []), rank]);
    } else clients.set(rank, a.client);
  }
  if (failed.size > 0) throw new PcoccError(groupedMessage(failed));
  return clients;
}

/** `vm[0,2]: reason; vm1: other reason` */
export function groupedMessage(byReason: Map<string, number[]>): string {
  return [...byReason].map(([why, ranks]) => `${vmSet(ranks.sort((a, b) => a - b))}: ${why}`).join("; ");
}
