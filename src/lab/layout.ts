import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Addresses and names the lab owns on the host. One lab per machine: these are fixed. */
export const LAB_NET = {
  bridge: "pcocclab0",
  /** /24 on the lab bridge; .1 is the controller (root netns), nodes start at .11 */
  prefix: "10.231.0",
  controllerIp: "10.231.0.1",
  netnsPrefix: "pcocclab-",
  /** host side of each node's veth: `plab-<node>` (≤ 15 chars) */
  vethPrefix: "plab-",
  etcdClientPort: 23790,
  etcdPeerPort: 23800,
  slurmctldPort: 16817,
  slurmdPort: 16818,
} as const;

/** Machine-wide: one lab at a time (fixed bridge, ports, namespace names), whatever its directory. */
export const LAB_HOST = {
  lockFile: "/run/pcocc-lab.lock",
  /** holds the directory of the lab that owns the bridge and namespaces */
  ownerFile: "/run/pcocc-lab.dir",
} as const;

export const LAB_USERS = ["pcocclab", "pcocclab2"] as const;

/** Mount points bind-mounted per node inside each node's mount namespace. */
export const NODE_RUN_DIRS = ["/run/openvswitch", "/run/pcocc"] as const;

export function nodeName(index: number): string {
  return `node${index + 1}`;
}

export function nodeIp(index: number): string {
  return `${LAB_NET.prefix}.${11 + index}`;
}

export function netnsName(node: string): string {
  return `${LAB_NET.netnsPrefix}${node}`;
}

export function etcdEndpoint(): string {
  return `https://${LAB_NET.controllerIp}:${LAB_NET.etcdClientPort}`;
}

/** Root of the source tree / installed package (this file is src/lab/layout.ts or dist/lab/layout.js). */
export function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
}

export function defaultLabDir(): string {
  return process.env.PCOCC_LAB_DIR || "/var/lib/pcocc-lab";
}

/** Every path under the lab's state directory, in one place. */
export function labPaths(dir: string) {
  const etc = join(dir, "etc");
  const run = join(dir, "run");
  return {
    dir,
    etc,
    slurmDir: join(etc, "slurm"),
    slurmConf: join(etc, "slurm", "slurm.conf"),
    plugstackConf: join(etc, "slurm", "plugstack.conf"),
    cgroupConf: join(etc, "slurm", "cgroup.conf"),
    hosts: join(etc, "hosts"),
    pcoccConfDir: join(etc, "pcocc"),
    etcdPasswordFile: join(etc, "pcocc", "etcd-password"),
    run,
    stateFile: join(run, "lab.json"),
    log: join(dir, "log"),
    state: join(dir, "state"),
    ctldState: join(dir, "state", "ctld"),
    spool: join(dir, "state", "spool"),
    etcdData: join(dir, "state", "etcd"),
    mungeDir: join(dir, "munge"),
    mungeKey: join(dir, "munge", "munge.key"),
    mungeSocket: join(dir, "munge", "munge.socket.2"),
    mungeSeed: join(dir, "state", "munge.seed"),
    images: join(dir, "images"),
    nodes: join(dir, "nodes"),
    node: (name: string) => {
      const root = join(dir, "nodes", name);
      return {
        root,
        ovsRun: join(root, "run", "openvswitch"),
        pcoccRun: join(root, "run", "pcocc"),
        ovsDb: join(root, "ovs", "conf.db"),
        netConfig: join(root, "net.batch"),
      };
    },
  };
}

export type LabPaths = ReturnType<typeof labPaths>;
