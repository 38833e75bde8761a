import { spawn, type ChildProcess } from "node:child_process";

/** How the hypervisor step ended. */
export interface StepExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The `srun --vm` step that runs one `pcocc internal run` per VM. It lives in its own process group so a
 * Ctrl-C on the user's terminal reaches the launcher only, which then stops it in order. Its output is
 * passed through and the last lines are kept to explain a failure.
 */
export class HypervisorStep {
  readonly exited: Promise<StepExit>;
  private readonly child: ChildProcess;
  private readonly tail: string[] = [];
  private exit?: StepExit;
  private stopping?: Promise<StepExit>;

  constructor(argv: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn("srun", argv, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.child.stdout!.on("data", (d: Buffer) => this.output(d, process.stdout));
    this.child.stderr!.on("data", (d: Buffer) => this.output(d, process.stderr));
    this.exited = new Promise((resolve) => {
      this.child.on("error", (err) => {
        this.remember(`cannot run srun: ${err.message}`);
        this.exit = { code: 127, signal: null };
        resolve(this.exit);
      });
      this.child.on("close", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last lines srun and the hypervisors printed (SPANK setup failures land here). */
  lastLines(n = 5): string[] {
    return this.tail.slice(-n);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /**
   * Orderly stop: SIGINT (srun -X forwards it straight to every hypervisor, which shuts its VM down and
   * cleans up), SIGTERM if that is not enough, SIGKILL after the grace period. Only the first call acts:
   * a second SIGINT within a second would make srun kill the tasks outright.
   */
  stop(graceMs: number, onForce?: () => void): Promise<StepExit> {
    if (!this.running) return this.exited;
    this.stopping ??= this.stopOnce(graceMs, onForce);
    return this.stopping;
  }

  /** Whether stop() was called while the step ran. */
  get stopRequested(): boolean {
    return this.stopping !== undefined;
  }

  private async stopOnce(graceMs: number, onForce?: () => void): Promise<StepExit> {
    this.signal("SIGINT");
    const later = (ms: number, fn: () => void) => setTimeout(fn, ms);
    const t1 = later(graceMs / 2, () => this.signal("SIGTERM"));
    const t2 = later(graceMs, () => {
      onForce?.();
      this.signal("SIGKILL");
    });
    try {
      return await this.exited;
    } finally {
      clearTimeout(t1);
      clearTimeout(t2);
    }
  }

  private output(data: Buffer, to: NodeJS.WriteStream): void {
    to.write(data);
    for (const line of data.toString("utf8").split("\n")) if (line.trim()) this.remember(line.trim());
  }

  private remember(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 50) this.tail.shift();
  }
}

/**
 * One line explaining how the cluster ended, from srun's status and its last lines: slurmstepd announces
 * cancellations and time limits, srun names the task (= VM rank) that failed first.
 */
export function describeStepExit(exit: StepExit, tail: string[] = []): string {
  // the first task that failed on its own (the others are then Terminated/Interrupted by SLURM)
  const task = tail
    .map((l) => /srun: error: (\S+): task (\d+): (.*)$/.exec(l))
    .find((m) => m && !/^(Terminated|Interrupt)$/.test(m[3]!.trim()));
  if (task && exit.code !== 0) {
    return `The cluster terminated unexpectedly: vm${task[2]} on ${task[1]}: ${task[3]} (srun exit status ${exit.code})`;
  }
  const text = tail.join("\n");
  if (/CANCELLED AT .*DUE TO TIME LIMIT/.test(text))
    return "The cluster was shut down: the job reached its time limit";
  if (/CANCELLED AT/.test(text)) return "The cluster was shut down: the job was cancelled";
  if (exit.signal) return "The cluster has been terminated due to a signal";
  if (exit.code === 0) return "The cluster has shut down";
  return `The cluster terminated unexpectedly (srun exit status ${exit.code})`;
}
