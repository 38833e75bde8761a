import { spawn, type ChildProcess } from "node:child_process";
import type { FileHandle } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { QmpClient } from "./qmp.js";

const QUIT_TIMEOUT_MS = 5000;
const TERM_TIMEOUT_MS = 5000;
/** How long a QEMU whose monitor failed gets to show it exited (its status explains the failure). */
export const EXIT_GRACE_MS = 2000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function describeExit(e: Exit): string {
  return e.code !== null ? `status ${e.code}` : `signal ${e.signal}`;
}

/**
 * QEMU and virtiofsd must not outlive their hypervisor, even one killed with SIGKILL (its cleanup never
 * runs): setpriv sets the parent-death signal and execs them, so the kernel kills them with it.
 */
export function dieWithHypervisor(argv: string[]): string[] {
  return ["--pdeathsig", "KILL", "--", ...argv];
}

/** One running QEMU: its exit, the end of its stderr (for error messages) and the ways to stop it. */
export class QemuProcess {
  readonly exited: Promise<Exit>;
  /** Aborted when QEMU exits: cancels waits on its sockets. */
  readonly gone = new AbortController();
  private tail = "";

  private constructor(readonly child: ChildProcess) {
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (s: string) => (this.tail = (this.tail + s).slice(-4096)));
    this.exited = new Promise<Exit>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", (err) => {
        this.tail += err.message;
        resolve({ code: 127, signal: null });
      });
    });
    void this.exited.then(() => this.gone.abort());
  }

  /** Starts `argv` in its own process group; `incoming` becomes its descriptor 3 (INCOMING_FD). */
  static start(argv: string[], opts: { inheritStderr?: boolean; incoming?: FileHandle }): QemuProcess {
    const child = spawn("setpriv", dieWithHypervisor(argv), {
      detached: true,
      stdio: [
        "ignore",
        "ignore",
        opts.inheritStderr ? "inherit" : "pipe",
        ...(opts.incoming ? [opts.incoming.fd] : []),
      ],
    });
    return new QemuProcess(child);
  }

  get stderrTail(): string {
    return this.tail.trim();
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** QEMU's exit if it comes within `ms`, null otherwise. */
  exitWithin(ms: number): Promise<Exit | null> {
    return Promise.race([this.exited, sleep(ms, null, { ref: false })]);
  }

  /** Connects the hypervisor's private monitor, giving up as soon as QEMU exits. */
  async connectControl(socket: string): Promise<QmpClient> {
    return QmpClient.connect(socket, { timeoutMs: 60_000, signal: this.gone.signal });
  }

  /**
   * Orderly stop: ACPI power button first when asked (`powerdownGraceMs` to act on it), then `quit`, then
   * SIGTERM, then SIGKILL, each after the previous one had its time.
   */
  async stop(ctl: QmpClient, how: { powerdown: boolean; powerdownGraceMs: number }): Promise<Exit> {
    if (how.powerdown) {
      await ctl.execute("system_powerdown", undefined, { timeoutMs: QUIT_TIMEOUT_MS }).catch(() => undefined);
      await this.exitWithin(how.powerdownGraceMs);
    }
    if (this.running)
      await ctl.execute("quit", undefined, { timeoutMs: QUIT_TIMEOUT_MS }).catch(() => undefined);
    let e = await this.exitWithin(QUIT_TIMEOUT_MS);
    if (!e) {
      this.child.kill("SIGTERM");
      e = await this.exitWithin(TERM_TIMEOUT_MS);
    }
    if (!e) {
      this.child.kill("SIGKILL");
      e = await this.exited;
    }
    return e;
  }

  /** Last resort on the way out: QEMU never survives its hypervisor's run. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }
}
