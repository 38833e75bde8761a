import { connect } from "node:net";
import { existsSync, readFileSync } from "node:fs";
import { LAB_NET, netnsName } from "./layout.js";
import type { LabPaths } from "./layout.js";
import { processAlive, run, runOk, startDaemon, waitFor } from "./procs.js";
import { PcoccError } from "../util/errors.js";

/** Environment of the lab's daemons: nothing inherited from whoever ran `up`. */
export function daemonEnv(): NodeJS.ProcessEnv {
  return { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };
}

export function slurmEnv(paths: LabPaths): NodeJS.ProcessEnv {
  return { ...daemonEnv(), SLURM_CONF: paths.slurmConf };
}

export async function startSlurmctld(paths: LabPaths): Promise<number> {
  const pid = startDaemon(
    ["slurmctld", "-D", "-i", "-f", paths.slurmConf],
    `${paths.log}/slurmctld.out`,
    slurmEnv(paths),
  );
  await waitFor(
    "slurmctld to listen",
    async () => {
      if (!processAlive(pid)) throw new PcoccError(`lab: slurmctld exited (see ${paths.log}/slurmctld.log)`);
      return tcpOpen(LAB_NET.controllerIp, LAB_NET.slurmctldPort);
    },
    20_000,
    `see ${paths.log}/slurmctld.log`,
  );
  return pid;
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
    sock.setTimeout(500, () => done(false));
  });
}

/*
 * Runs as the node's first process, already inside its netns, in fresh UTS and mount namespaces:
 * hostname, network, private /etc/hosts and per-node /run/openvswitch + /run/pcocc, then this node's
 * Open vSwitch (own db and sockets; vswitchd in the node netns so its taps and tunnels are the node's)
 * and finally slurmd, which keeps the pid. Values arrive as positional parameters, never spliced in.
 */
const NODE_SCRIPT = `set -e
name=$1 netbatch=$2 hosts=$3 ovsrun=$4 pcoccrun=$5 ovsdb=$6 logdir=$7 conf=$8
hostname "$name"
ip -batch "$netbatch"
mount --bind "$hosts" /etc/hosts
mount --bind "$ovsrun" /run/openvswitch
mount --bind "$pcoccrun" /run/pcocc
# a node's own /run/netns, gone with the node like a real node's tmpfs /run: no stale job namespace files
mount -t tmpfs -o mode=0755 lab-netns /run/netns
OVS_RUNDIR=/run/openvswitch setsid -f ovsdb-server "$ovsdb" --remote=punix:/run/openvswitch/db.sock \\
  --pidfile=/run/openvswitch/ovsdb-server.pid --no-chdir -vconsole:off -vsyslog:off \\
  --log-file="$logdir/ovsdb-server-$name.log" </dev/null >>"$logdir/ovs-$name.out" 2>&1
OVS_RUNDIR=/run/openvswitch setsid -f ovs-vswitchd unix:/run/openvswitch/db.sock \\
  --pidfile=/run/openvswitch/ovs-vswitchd.pid --no-chdir -vconsole:off -vsyslog:off \\
  --log-file="$logdir/ovs-vswitchd-$name.log" </dev/null >>"$logdir/ovs-$name.out" 2>&1
exec slurmd -D -N "$name" -f "$conf"
`;

/** A fresh OVS database holding the root Open_vSwitch row (what `ovs-vsctl init` would add). */
export async function createOvsDb(dbPath: string): Promise<void> {
  await runOk(["ovsdb-tool", "create", dbPath, "/usr/share/openvswitch/vswitch.ovsschema"]);
  await runOk([
    "ovsdb-tool",
    "transact",
    dbPath,
    JSON.stringify(["Open_vSwitch", { op: "insert", table: "Open_vSwitch", row: {} }]),
  ]);
}

export function startNode(paths: LabPaths, name: string): number {
  const np = paths.node(name);
  return startDaemon(
    [
      "nsenter",
      `--net=/run/netns/${netnsName(name)}`,
      "--",
      "unshare",
      "--uts",
      "--mount",
      "--propagation",
      "private",
      "--",
      "/bin/sh",
      "-c",
      NODE_SCRIPT,
      "lab-node",
      name,
      np.netConfig,
      paths.hosts,
      np.ovsRun,
      np.pcoccRun,
      np.ovsDb,
      paths.log,
      paths.slurmConf,
    ],
    `${paths.log}/node-${name}.out`,
    slurmEnv(paths),
  );
}

function pidFromFile(file: string): number {
  try {
    return Number(readFileSync(file, "utf8").trim());
  } catch {
    return 0;
  }
}

/** Pids of a node's OVS daemons (0 when not running). */
export function ovsPids(paths: LabPaths, name: string): { ovsdb: number; vswitchd: number } {
  const dir = paths.node(name).ovsRun;
  return {
    ovsdb: pidFromFile(`${dir}/ovsdb-server.pid`),
    vswitchd: pidFromFile(`${dir}/ovs-vswitchd.pid`),
  };
}

function ovsReady(paths: LabPaths, name: string): boolean {
  const dir = paths.node(name).ovsRun;
  const { vswitchd } = ovsPids(paths, name);
  return existsSync(`${dir}/db.sock`) && vswitchd > 0 && existsSync(`${dir}/ovs-vswitchd.${vswitchd}.ctl`);
}

/**
 * A lab reused by the next test file starts with every node usable: a node SLURM drained after an earlier
 * failure (e.g. an epilog error when a test's job died) is resumed, and the reason returned to be said aloud,
 * so one failing test does not leave every later one pending.
 */
export async function resumeDrainedNodes(paths: LabPaths): Promise<string[]> {
  const r = await run(["sinfo", "-h", "-N", "-o", "%N|%T|%E"], { env: slurmEnv(paths) });
  if (r.code !== 0) return [];
  const drained = r.stdout
    .trim()
    .split("\n")
    .map((l) => l.split("|") as [string, string, string])
    .filter(([, state]) => /drain/i.test(state ?? ""));
  for (const [name] of drained)
    await runOk(["scontrol", "update", `nodename=${name}`, "state=resume"], { env: slurmEnv(paths) });
  return drained.map(([name, , reason]) => `${name} (${reason})`);
}

/** Every node registered and idle in SLURM, and every node's Open vSwitch answering. */
export async function waitNodesReady(
  paths: LabPaths,
  nodes: Array<{ name: string; pid: number }>,
): Promise<void> {
  const hint = `see ${paths.log}/slurmd-<node>.log and node-<node>.out`;
  await waitFor(
    "Open vSwitch in every node",
    () => nodes.every((n) => ovsReady(paths, n.name)),
    20_000,
    `see ${paths.log}/ovs-*.log`,
  );
  await waitFor(
    "all slurmd to register idle",
    async () => {
      for (const n of nodes) {
        if (!processAlive(n.pid)) throw new PcoccError(`lab: slurmd of ${n.name} exited (${hint})`);
      }
      const r = await run(["sinfo", "-h", "-N", "-o", "%N %T"], { env: slurmEnv(paths) });
      if (r.code !== 0) return false;
      const states = new Map(
        r.stdout
          .trim()
          .split("\n")
          .map((l) => l.trim().split(/\s+/) as [string, string]),
      );
      return nodes.every((n) => states.get(n.name) === "idle");
    },
    30_000,
    hint,
  );
}
