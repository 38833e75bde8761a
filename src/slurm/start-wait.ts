import type { PcoccConfig } from "../config/index.js";
import {
  joinJob,
  openKeystore,
  watchHostStates,
  watchVmStates,
  type Following,
  type HostState,
  type JobHandle,
  type Keystore,
  type VmState,
} from "../keystore/index.js";
import { PcoccError } from "../util/index.js";
import type { HypervisorStep, StepExit } from "./hypervisor-step.js";
import {
  firstFailure,
  hostProgressLine,
  vmProgressLine,
  type HostProgress,
  type VmProgress,
} from "./progress.js";

/** One status line on stderr: rewritten in place on a terminal, printed when it changes otherwise. */
export class ProgressDisplay {
  private last = "";
  private readonly tty = process.stderr.isTTY === true;

  update(line: string): void {
    if (line === this.last) return;
    // off a terminal (batch output files), a line that only differs by its running clock is not news
    const news = this.tty || line.replace(/\d+ s ago/, "") !== this.last.replace(/\d+ s ago/, "");
    this.last = line;
    if (this.tty) process.stderr.write(`\r\x1b[K${line}`);
    else if (news) process.stderr.write(`${line}\n`);
  }

  finish(line: string): void {
    if (this.tty) process.stderr.write(`\r\x1b[K${line}\n`);
    else if (line !== this.last) process.stderr.write(`${line}\n`);
    this.last = "";
  }

  /** Ends an in-place line so that a message printed next starts on its own line. */
  clear(): void {
    if (this.tty && this.last) process.stderr.write("\n");
    this.last = "";
  }
}

export interface WaitContext {
  step: HypervisorStep;
  /** Rejects when the user interrupts the launch (Ctrl-C, scancel). */
  interrupted: Promise<never>;
  progress: ProgressDisplay;
  timeoutMs: number;
}

/** Why the step died, with the reason pcocc's setup or hypervisors printed (SPANK relays setup failures). */
function stepDied(ctx: WaitContext, phase: string) {
  return (exit: StepExit): never => {
    const lines = ctx.step.lastLines(50);
    const ours = lines.filter((l) => /^pcocc: /.test(l));
    const why = (ours.length ? ours : lines).slice(-3);
    const status = exit.signal ? `signal ${exit.signal}` : `exit status ${exit.code}`;
    throw new PcoccError(
      `Failed to start cluster: the hypervisor step ended (${status}) while ${phase}${
        why.length ? `:\n  ${why.join("\n  ")}` : ""
      }`,
    );
  };
}

/**
 * Waits for `evaluate` to say done while watching etcd through `follow`, racing the step's death, the
 * user's interrupt and a timeout whose message is built by `diagnose` from the last view.
 */
async function watchPhase<S>(
  ctx: WaitContext,
  phase: string,
  follow: (onChange: (s: S) => void, onError: (e: unknown) => void) => Promise<Following>,
  evaluate: (s: S) => { done: boolean; failure?: string; line: string },
  diagnose: (s: S | undefined) => string,
): Promise<void> {
  let latest: S | undefined;
  let following: Promise<Following | undefined> | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ctx.interrupted,
      ctx.step.exited.then(stepDied(ctx, phase)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new PcoccError(`Failed to start cluster: timed out ${phase}: ${diagnose(latest)}`)),
          ctx.timeoutMs,
        );
      }),
      new Promise<void>((resolve, reject) => {
        const check = (s: S) => {
          latest = s;
          const r = evaluate(s);
          if (r.failure) reject(new PcoccError(`Failed to start cluster: ${r.failure}`));
          else if (r.done) {
            ctx.progress.finish(r.line);
            resolve();
          } else ctx.progress.update(r.line);
        };
        // "12 s ago" keeps counting between etcd events
        ticker = setInterval(() => latest !== undefined && check(latest), 1000);
        following = follow(check, reject).catch((err) => {
          reject(err);
          return undefined;
        });
      }),
    ]);
  } finally {
    clearInterval(ticker);
    clearTimeout(timer);
    // the first view can settle the wait before the watch is even established: close it once it is
    await (await following)?.close();
    ctx.progress.clear();
  }
}

const isAuthError = (err: unknown) => err instanceof PcoccError && /authentication error/i.test(err.message);

/**
 * Connects as the user and attaches to the job once node 0's setup registered it. On a user's first job the
 * etcd user only appears when that setup ran, so authentication failures are retried meanwhile.
 */
export async function joinAsUser(
  ctx: WaitContext,
  config: PcoccConfig,
  jobId: number,
): Promise<{ ks: Keystore; job: JobHandle }> {
  const deadline = Date.now() + ctx.timeoutMs;
  let warned = false;
  for (;;) {
    const ks = await openKeystore({ config, as: "user" });
    try {
      const job = await Promise.race([
        ctx.interrupted,
        ctx.step.exited.then(stepDied(ctx, "waiting for the job's keystore setup")),
        joinJob(ks, { jobId, timeoutMs: Math.max(1000, deadline - Date.now()) }),
      ]);
      if (warned) {
        ctx.progress.clear();
        process.stderr.write("User credentials added to keystore: welcome to pcocc !\n");
      }
      return { ks, job };
    } catch (err) {
      await ks.close();
      if (!isAuthError(err) || Date.now() > deadline) throw err;
      if (!warned) {
        ctx.progress.clear();
        process.stderr.write("User unknown, is this your first job ? Waiting for the keystore setup\n");
      }
      warned = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export async function waitForHosts(
  ctx: WaitContext,
  ks: Keystore,
  jobId: number,
  nodes: string[],
): Promise<void> {
  const view = (states: Map<number, HostState>): HostProgress[] =>
    nodes.map((node, rank) => {
      const s = states.get(rank) as (HostState & { since?: unknown }) | undefined;
      return {
        node,
        state: s?.state,
        desc: s?.desc,
        since: typeof s?.since === "number" ? s.since : undefined,
      };
    });
  await watchPhase<Map<number, HostState>>(
    ctx,
    "configuring hosts",
    (onChange, onError) => watchHostStates(ks, jobId, onChange, onError),
    (states) => {
      const hosts = view(states);
      const failure = firstFailure(hosts);
      return {
        done: hosts.every((h) => h.state === "complete"),
        failure,
        line: hostProgressLine(hosts),
      };
    },
    (states) =>
      `${hostProgressLine(view(states ?? new Map()))}. A node that stays "waiting for batch manager" did not ` +
      "run pcocc's setup: check the SPANK plugin (plugstack.conf) and the slurmd log of that node",
  );
}

export async function waitForVms(
  ctx: WaitContext,
  ks: Keystore,
  user: string,
  jobId: number,
  vmNames: string[],
): Promise<void> {
  const view = (states: Map<number, VmState>): VmProgress[] =>
    vmNames.map((name, rank) => {
      const s = states.get(rank) as (VmState & { since?: unknown; consoleTail?: unknown }) | undefined;
      return {
        name,
        state: s?.state === "not-started" ? undefined : s?.state,
        desc: s?.desc,
        since: typeof s?.since === "number" ? s.since : undefined,
        consoleTail: typeof s?.consoleTail === "string" ? s.consoleTail : undefined,
      };
    });
  await watchPhase<Map<number, VmState>>(
    ctx,
    "starting VMs",
    (onChange, onError) => watchVmStates(ks, user, jobId, onChange, onError),
    (states) => {
      const vms = view(states);
      return {
        done: vms.every((v) => v.state === "running"),
        failure: firstFailure(vms),
        line: vmProgressLine(vms),
      };
    },
    (states) => `${vmProgressLine(view(states ?? new Map()))}`,
  );
}
