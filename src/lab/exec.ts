import { spawn } from "node:child_process";
import type { ChildProcess, StdioOptions } from "node:child_process";
import { dirname, join } from "node:path";
import { repoRoot } from "./layout.js";
import { run } from "./procs.js";
import type { RunResult } from "./procs.js";
import type { LabInfo, LabNode, LabUser } from "./types.js";

const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** What a shell on the lab's login node needs (`pcocc-lab env` prints it as export lines). */
export function labEnv(info: LabInfo): Record<string, string> {
  return {
    SLURM_CONF: info.slurmConf,
    PCOCC_SYSTEM_CONF_DIR: info.pcoccConfDir,
    // the pcocc the lab runs (checkout or installed package) comes first
    PATH: `${dirname(info.pcocc.bin)}:${SYSTEM_PATH}`,
    ETCDCTL_API: "3",
    ETCDCTL_ENDPOINTS: info.etcd.endpoints.join(","),
    ETCDCTL_CACERT: info.etcd.caCert,
    PCOCC_LAB_DIR: info.dir,
    PCOCC_LAB_USER: info.user.name,
    PCOCC_LAB_USER2: info.user2.name,
  };
}

export interface NodeExecOptions {
  /** run as this user instead of root (its groups, its home as HOME) */
  user?: LabUser;
  /** added to (and overriding) the default environment: PATH, LANG, HOME */
  env?: Record<string, string>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

function asUser(user: LabUser | undefined): string[] {
  return user ? ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--"] : [];
}

function baseEnv(user: LabUser | undefined): Record<string, string> {
  const env: Record<string, string> = {
    PATH: `${join(repoRoot(), "bin")}:${SYSTEM_PATH}`,
    LANG: "C.UTF-8",
    HOME: user ? user.home : "/root",
  };
  if (user) Object.assign(env, { USER: user.name, LOGNAME: user.name });
  return env;
}

/** argv that runs `argv` "on" a lab node: inside its slurmd's network, UTS and mount namespaces. */
export function nodeArgv(node: LabNode, argv: string[], opts: NodeExecOptions = {}): string[] {
  const wd = opts.cwd ?? "/";
  return [
    "nsenter",
    "-t",
    String(node.pid),
    "-n",
    "-u",
    "-m",
    `--wd=${wd}`,
    "--",
    ...asUser(opts.user),
    ...argv,
  ];
}

export function nodeExec(node: LabNode, argv: string[], opts: NodeExecOptions = {}): Promise<RunResult> {
  return run(nodeArgv(node, argv, opts), {
    env: { ...baseEnv(opts.user), ...opts.env },
    input: opts.input,
    timeoutMs: opts.timeoutMs,
  });
}

export function nodeSpawn(
  node: LabNode,
  argv: string[],
  opts: NodeExecOptions & { stdio?: StdioOptions } = {},
): ChildProcess {
  const [cmd, ...args] = nodeArgv(node, argv, opts);
  return spawn(cmd!, args, { env: { ...baseEnv(opts.user), ...opts.env }, stdio: opts.stdio ?? "pipe" });
}

/** Environment of the lab user on the login node (root netns), as `pcocc-lab exec` gives it. */
export function userEnv(info: LabInfo, user: LabUser): Record<string, string> {
  return {
    ...labEnv(info),
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: "/bin/bash",
    LANG: "C.UTF-8",
    ...(process.env.TERM ? { TERM: process.env.TERM } : {}),
  };
}

export interface UserExecOptions {
  /** default: the first lab user */
  user?: LabUser;
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
}

/** Runs argv as a lab user on the login node with the lab environment, from the user's home. */
export function userExec(info: LabInfo, argv: string[], opts: UserExecOptions = {}): Promise<RunResult> {
  const user = opts.user ?? info.user;
  return run([...asUser(user), ...argv], {
    env: { ...userEnv(info, user), ...opts.env },
    cwd: user.home,
    input: opts.input,
    timeoutMs: opts.timeoutMs,
  });
}

export function userSpawn(
  info: LabInfo,
  argv: string[],
  opts: Omit<UserExecOptions, "input" | "timeoutMs"> & { stdio?: StdioOptions } = {},
): ChildProcess {
  const user = opts.user ?? info.user;
  const [cmd, ...args] = [...asUser(user), ...argv];
  return spawn(cmd!, args, {
    env: { ...userEnv(info, user), ...opts.env },
    cwd: user.home,
    stdio: opts.stdio ?? "pipe",
  });
}
