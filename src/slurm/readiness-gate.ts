import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { AgentClient } from "../agent/index.js";
import type { ClusterDefinition } from "../cluster/index.js";
import {
  parseReadinessCheck,
  resolveTemplate,
  type PcoccConfig,
  type ReadinessCheck,
} from "../config/index.js";
import { readinessSubKey, type JobHandle, type ReadinessState } from "../keystore/index.js";
import { PcoccError } from "../util/index.js";
import { defaultVmStateDir, vmStatePaths } from "../vm/index.js";
import { reachAgents } from "./agent-reach.js";
import { pcoccCommand } from "./pcocc-command.js";
import { backoffMs, probeOnce } from "./readiness-probe.js";
import { spawnOnVmNode } from "./remote.js";
import type { WaitContext } from "./start-wait.js";
import { placeVms } from "./vm-placement.js";

/** A VM the `--wait` gate waits for, with its template's checks and time limit. */
export interface GatedVm {
  rank: number;
  name: string;
  template: string;
  checks: ReadinessCheck[];
  timeoutMs: number;
}

/** How often the gate repeats the still-waiting VMs' lines. */
const PROGRESS_EVERY_MS = 5_000;
const CONSOLE_TAIL_LINES = 15;

/**
 * The VMs `--wait[=ROLE]` covers (all, or those of template ROLE) and their checks. A template without
 * `readiness:` still gates on its guest agent answering.
 */
export function gatedVms(config: PcoccConfig, cluster: ClusterDefinition, gate: string): GatedVm[] {
  return cluster.vms
    .filter((v) => gate === "all" || v.template === gate)
    .map((v) => {
      const s = resolveTemplate(config, v.template).settings;
      const checks = s.readiness.map((text) => {
        const c = parseReadinessCheck(text);
        if ("error" in c) throw new PcoccError(`template '${v.template}': readiness: ${c.error}`);
        return c;
      });
      return {
        rank: v.rank,
        name: v.name,
        template: v.template,
        checks,
        timeoutMs: s["readiness-timeout"] * 1000,
      };
    });
}

class GateFailure extends PcoccError {}

const label = (vm: GatedVm): string => `${vm.name} (${vm.template})`;

/**
 * Waits until every gated VM passed its checks, in order, each retried with backoff through the VM's
 * agent; prints each VM's progress on stderr and publishes it (`state/ready/<rank>`, for `pcocc ps`). A VM
 * past its `readiness-timeout` fails the launch with the check, its last answer and the VM's console tail.
 */
export async function waitForReadiness(ctx: WaitContext, job: JobHandle, vms: GatedVm[]): Promise<void> {
  if (vms.length === 0) return;
  const start = Date.now();
  const current = new Map<number, string>(vms.map((vm) => [vm.rank, "the guest agent"]));
  const publish = (vm: GatedVm, state: ReadinessState["state"]) =>
    job
      .putUser(readinessSubKey(vm.rank), {
        state,
        check: state === "ready" ? undefined : current.get(vm.rank),
        since: start,
        readyAt: state === "ready" ? Date.now() : undefined,
      })
      // `ps` misses one update at worst: the gate itself goes on
      .catch(() => undefined);
  const show = (vm: GatedVm) =>
    process.stderr.write(
      `${label(vm)}: waiting for ${current.get(vm.rank)}, ${Math.round((Date.now() - start) / 1000)} s\n`,
    );
  await Promise.all(vms.map((vm) => publish(vm, "waiting")));
  const ticker = setInterval(() => vms.filter((vm) => current.has(vm.rank)).forEach(show), PROGRESS_EVERY_MS);
  const abort = new AbortController();
  const reached = await Promise.race([
    ctx.interrupted,
    ctx.step.exited.then(() => {
      throw new PcoccError("Failed to start cluster: the hypervisor step ended while waiting for readiness");
    }),
    reachAgents(
      { jobId: String(job.jobId), user: job.user },
      vms.map((v) => v.rank),
      {
        timeoutMs: Math.max(...vms.map((v) => v.timeoutMs)),
      },
    ),
  ]).catch((err: unknown) => {
    clearInterval(ticker);
    throw err;
  });
  try {
    const gates = vms.map(async (vm) => {
      const agent = reached.agents.get(vm.rank);
      if (!agent || agent instanceof Error)
        throw await failure(job, vm, "the guest agent", agent?.message ?? "not reached");
      await gateVm(vm, agent.client, start + vm.timeoutMs, abort.signal, (check) => {
        current.set(vm.rank, check);
        void publish(vm, "waiting");
        show(vm);
      }).catch(async (err: unknown) => {
        await publish(vm, "failed");
        throw err instanceof GateFailure ? await failure(job, vm, current.get(vm.rank)!, err.message) : err;
      });
      current.delete(vm.rank);
      await publish(vm, "ready");
      process.stderr.write(`${label(vm)}: ready in ${Math.round((Date.now() - start) / 1000)} s\n`);
    });
    await Promise.race([
      ctx.interrupted,
      ctx.step.exited.then(() => {
        throw new PcoccError(
          "Failed to start cluster: the hypervisor step ended while waiting for readiness",
        );
      }),
      Promise.all(gates),
    ]);
  } finally {
    abort.abort();
    clearInterval(ticker);
    await reached.close();
  }
}

/** Runs `vm`'s checks in order until each passes; a GateFailure (last answer) past `deadline`. */
async function gateVm(
  vm: GatedVm,
  client: AgentClient,
  deadline: number,
  signal: AbortSignal,
  onCheck: (label: string) => void,
): Promise<void> {
  for (const check of vm.checks) {
    onCheck(check.label);
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) return;
      const r = await probeOnce(client, check);
      if (r.ok) break;
      const wait = backoffMs(attempt);
      if (Date.now() + wait > deadline) throw new GateFailure(r.detail);
      await sleep(wait, undefined, { signal }).catch(() => undefined);
    }
  }
}

/** The launch failure for `vm`: the check, its last answer, and the console's last lines. */
async function failure(job: JobHandle, vm: GatedVm, check: string, last: string): Promise<PcoccError> {
  const tail = await consoleTail(job, vm.rank).catch((err: Error) => [
    `(console log unavailable: ${err.message})`,
  ]);
  return new PcoccError(
    `Failed to start cluster: ${label(vm)}: readiness check ${check} did not pass within ` +
      `${vm.timeoutMs / 1000} s (last: ${last})\n${vm.name} console (last lines):\n  ${tail.join("\n  ")}`,
  );
}

/** The last lines of VM `rank`'s console log, read where it is (this node, or through an overlapping step). */
async function consoleTail(job: JobHandle, rank: number): Promise<string[]> {
  const placement = await placeVms({ jobId: String(job.jobId), user: job.user }, [rank], {
    waitRunning: false,
  });
  let text: string;
  if (placement.local.includes(rank)) {
    text = await readFile(vmStatePaths(defaultVmStateDir(placement.jobId, rank)).consoleLog, "utf8");
  } else {
    const [node] = [...placement.remote.keys()];
    const child = spawnOnVmNode(
      { jobId: placement.jobId, node: node! },
      pcoccCommand("console", "-j", placement.jobId, "-l", `vm${rank}`),
    );
    child.stdin!.end();
    const chunks: Buffer[] = [];
    child.stdout!.on("data", (d: Buffer) => chunks.push(d));
    await new Promise<void>((resolve) => child.on("close", () => resolve()));
    text = Buffer.concat(chunks).toString("utf8");
  }
  const lines = text
    .replace(/\r/g, "")
    // eslint-disable-next-line no-control-regex -- terminal escapes in the console log
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")
    .split("\n")
    .filter((l) => l.trim() !== "");
  return lines.slice(-CONSOLE_TAIL_LINES);
}
