import { PcoccError } from "../util/index.js";
import { requireAgents } from "./agent-reach.js";
import { DEFAULT_AGENT_TIMEOUT_S, withAgents } from "./exec.js";
import { execProcesses } from "./guest-exec.js";
import { pinProcesses, placeProcesses } from "./run-placement.js";
import type { JobTargetOptions } from "./target.js";

export interface RunOptions extends JobTargetOptions {
  /** `-w`: VM ranks, in order; default every VM of the cluster. */
  vms: number[] | "all";
  /** `-n`: processes placed over the VMs (placeProcesses); default one per VM. */
  processes?: number;
  /** `-c`: pin each process to this many guest CPUs (pinProcesses); default: not pinned. */
  cores?: number;
  /** `--pty`: run the one process in a terminal in the guest. */
  pty?: boolean;
  argv: string[];
  guestUser?: string;
  cwd?: string;
  /** `NAME=VALUE` entries (buildRunEnv). */
  env: string[];
  /** `--no-prefix` gives false; default: prefix when several processes run. */
  prefix?: boolean;
}

/**
 * `pcocc run` in VMs: places the processes over the selected VMs and runs them all at once through the
 * agents (one connection per VM, shared by its processes), stdin forwarded to every one. Each process gets
 * `PCOCC_PROCID` (its rank in the run) and `PCOCC_NPROCS`; with -c, its own block of guest CPUs. Resolves
 * with the highest exit status.
 */
export async function runInVms(o: RunOptions): Promise<number> {
  if (o.argv.length === 0) throw new PcoccError("nothing to run: give a command");
  return withAgents({ ...o, indices: o.vms, timeoutMs: DEFAULT_AGENT_TIMEOUT_S * 1000 }, async (reached) => {
    const clients = requireAgents(reached);
    const vms = o.vms === "all" ? [...clients.keys()].sort((a, b) => a - b) : o.vms;
    const placed = placeProcesses(vms, o.processes ?? vms.length);
    const cpusOf = (rank: number): number => {
      const a = reached.agents.get(rank);
      return a && !(a instanceof Error) ? a.hello.cpus : 0;
    };
    const pins = o.cores !== undefined ? pinProcesses(placed, o.cores, cpusOf) : undefined;
    const procs = placed.map((rank, p) => ({
      rank,
      client: clients.get(rank)!,
      label: `${p}@vm${rank}`,
      env: [`PCOCC_PROCID=${p}`, `PCOCC_NPROCS=${placed.length}`],
      cpus: pins?.[p],
    }));
    return execProcesses(procs, {
      argv: o.argv,
      user: o.guestUser,
      cwd: o.cwd,
      env: o.env,
      prefix: o.prefix ?? procs.length > 1,
      pty: o.pty,
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
    });
  });
}
