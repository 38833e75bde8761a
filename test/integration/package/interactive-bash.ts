import * as pty from "node-pty";
import { userEnv, type LabInfo } from "../../../src/lab/index.js";

const PROMPT = "PCOCC-PTY> ";

/**
 * An interactive bash of the lab user on a pseudo-terminal (readline, hence TAB completion, needs one),
 * started without rc files, with Debian's bash-completion loaded as a login shell would: completions are
 * then found on demand in /usr/share/bash-completion/completions.
 */
export class InteractiveBash {
  private readonly term: pty.IPty;
  private output = "";

  constructor(info: LabInfo) {
    const user = info.user;
    this.term = pty.spawn(
      "setpriv",
      [
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        "--init-groups",
        "--",
        "bash",
        "--noprofile",
        "--norc",
        "-i",
      ],
      { name: "xterm", cols: 200, rows: 50, cwd: user.home, env: userEnv(info, user) },
    );
    this.term.onData((d) => (this.output += d));
  }

  /** Waits for bash-completion to be loaded and the first prompt after it. */
  async start(): Promise<void> {
    // quoted in two halves: the echo of this line must not look like the prompt
    const [head, tail] = [PROMPT.slice(0, 5), PROMPT.slice(5)];
    this.term.write(`PS1='${head}''${tail}'; . /usr/share/bash-completion/bash_completion\n`);
    await this.waitFor(new RegExp(PROMPT), "the prompt after loading bash-completion");
  }

  /** Types `keys` and waits until the terminal shows `expected`; returns everything shown since. */
  async type(keys: string, expected: RegExp, what: string, timeoutMs = 60_000): Promise<string> {
    const from = this.output.length;
    this.term.write(keys);
    await this.waitFor(expected, what, timeoutMs, from);
    return this.output.slice(from);
  }

  private waitFor(expected: RegExp, what: string, timeoutMs = 30_000, from = 0): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!expected.test(this.output.slice(from))) return;
        clearTimeout(timer);
        sub.dispose();
        resolve();
      };
      const timer = setTimeout(() => {
        sub.dispose();
        reject(new Error(`timed out waiting for ${what}; the terminal showed:\n${this.output.slice(from)}`));
      }, timeoutMs);
      const sub = this.term.onData(() => setImmediate(check));
      check();
    });
  }

  close(): void {
    this.term.kill();
  }
}
