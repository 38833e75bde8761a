import { spawn } from "node:child_process";
import { exitStatus, PcoccError } from "../util/index.js";
import { openCluster, reverseNatPort } from "./cluster-info.js";
import { nodeAddress } from "./commands.js";
import { ON_VM_NODE_ENV, locateRank } from "./cluster-info.js";
import {
  buildScpArgv,
  buildSshArgv,
  findScpVm,
  findSshDestination,
  parseNcArgs,
  parseRemoteArgs,
} from "./remote-args.js";
import type { JobTargetOptions } from "./target.js";

/** Runs a client (ssh, scp, nc) attached to our terminal; its exit status becomes ours. */
function runClient(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: "inherit", env });
    const ignore = () => {};
    process.on("SIGINT", ignore);
    child.on("error", (err) => {
      process.off("SIGINT", ignore);
      reject(new PcoccError(`cannot run ${cmd}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    child.on("exit", (code, signal) => {
      process.off("SIGINT", ignore);
      resolve(exitStatus(code, signal));
    });
  });
}

/** The address and reverse-NAT port that reach `vmRank:vmPort` from here. */
async function reach(target: JobTargetOptions, rank: number, vmPort: number) {
  const { ks, cluster } = await openCluster(target);
  try {
    const loc = locateRank(cluster, rank);
    const [hostPort, host] = await Promise.all([
      reverseNatPort(ks, cluster.jobId, rank, vmPort),
      nodeAddress(loc.node),
    ]);
    return { host, hostPort };
  } finally {
    await ks.close();
  }
}

/** `pcocc ssh [-j|-J|--user|-p PORT] [--] [ssh options] [user@]vmN [command]` */
export async function sshVm(args: string[]): Promise<number> {
  const { target, port, rest } = parseRemoteArgs(args, "-p");
  const { rank } = findSshDestination(rest);
  const { host, hostPort } = await reach(target, rank, port ?? 22);
  return runClient("ssh", buildSshArgv(rest, host, hostPort));
}

/** `pcocc scp [-j|-J|--user|-P PORT] [--] [scp options] SRC... DST` with `[user@]vmN:path` operands. */
export async function scpVm(args: string[]): Promise<number> {
  const { target, port, rest } = parseRemoteArgs(args, "-P");
  const rank = findScpVm(rest);
  const { host, hostPort } = await reach(target, rank, port ?? 22);
  return runClient("scp", buildScpArgv(rest, host, hostPort));
}

/** `pcocc nc [-j|-J|--user] [--] [nc options] vmN [PORT]` */
export async function ncVm(args: string[]): Promise<number> {
  const { target, rest } = parseRemoteArgs(args, null);
  const { ncOptions, rank, port } = parseNcArgs(rest);
  const { host, hostPort } = await reach(target, rank, port);
  return runClient("nc", [...ncOptions, host, String(hostPort)]);
}

/** srun arguments of an overlapping one-task step on the VM's node, running `pcoccArgv` there. */
function vmNodeStep(
  loc: { jobId: number | string; node: string },
  pcoccArgv: string[],
  io: string,
): string[] {
  return [
    "--jobid",
    String(loc.jobId),
    "--overlap",
    "-Q",
    "-w",
    loc.node,
    "-N1",
    "-n1",
    "--mem=0",
    io,
    ...pcoccArgv,
  ];
}

/**
 * `srun ARGS` that dies with us (its SIGTERM ends the step): the verb must not go on on the node, e.g. a
 * save committing a revision after the user saw it fail.
 */
function srunDyingWithUs(args: string[]): [string, string[]] {
  return ["setpriv", ["--pdeathsig", "TERM", "--", "srun", ...args]];
}

/**
 * How the step's I/O is carried: `--pty` (the user's terminal, raw) only for a verb that wants one and when
 * our stdin and stdout both are terminals (srun's pty needs them: `pcocc console | tail` must not ask for one).
 */
export function stepIo(
  wantsPty: boolean,
  tty: { stdin?: boolean; stdout?: boolean } = { stdin: process.stdin.isTTY, stdout: process.stdout.isTTY },
): "--pty" | "-u" {
  return wantsPty && tty.stdin === true && tty.stdout === true ? "--pty" : "-u";
}

/**
 * Runs pcocc again on the VM's node, inside the job through an overlapping step (no ssh to compute nodes):
 * console, reset and save act on the VM's local sockets there.
 */
export function runOnVmNode(
  loc: { jobId: number | string; node: string },
  pcoccArgv: string[],
  opts: { pty: boolean },
): Promise<number> {
  const [cmd, args] = srunDyingWithUs(vmNodeStep(loc, pcoccArgv, stepIo(opts.pty)));
  return runClient(cmd, args, { ...process.env, [ON_VM_NODE_ENV]: "1" });
}

/**
 * The same step with its stdin and stdout as pipes to this process (the agent relay), in its own process
 * group: a Ctrl-C on the terminal is ours to handle (the relay must outlive it to carry the kills).
 */
export function spawnOnVmNode(loc: { jobId: number | string; node: string }, pcoccArgv: string[]) {
  const [cmd, args] = srunDyingWithUs(vmNodeStep(loc, pcoccArgv, "-u"));
  return spawn(cmd, args, {
    stdio: ["pipe", "pipe", "inherit"],
    detached: true,
    env: { ...process.env, [ON_VM_NODE_ENV]: "1" },
  });
}
