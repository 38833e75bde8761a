import { nativeAddon, PcoccError } from "../util/index.js";

/**
 * Typed facade of the N-API addon in `native/` (rtnetlink, /dev/net/tun, network namespaces, libnftables,
 * fork+exec in a namespace). Operations run in order on a libuv worker thread; a batch aimed at a
 * namespace switches that worker thread into it (never the main thread) and back before returning.
 */
export type NetOp =
  | {
      op: "linkAdd";
      kind: "bridge" | "veth" | "vxlan" | "dummy";
      name: string;
      /** veth peer name, and the namespace (path) the peer is created in. */
      peer?: string;
      peerNetns?: string;
      vni?: number;
      local?: string;
      port?: number;
      /** VXLAN: the range the device picks its UDP source ports from. */
      srcPortMin?: number;
      srcPortMax?: number;
      mtu?: number;
      mac?: string;
      master?: string;
      netns?: string;
      up?: boolean;
      mayExist?: boolean;
      /** Device group (IFLA_GROUP): a whole group is deleted in one request. */
      group?: number;
    }
  | { op: "linkDel"; name: string; ifExists?: boolean }
  | { op: "linkDelGroup"; group: number }
  | {
      op: "linkSet";
      name: string;
      mtu?: number;
      mac?: string;
      master?: string;
      netns?: string;
      up?: boolean;
      group?: number;
    }
  | {
      op: "tapAdd";
      name: string;
      group?: number;
      /** Owner (unsigned 32-bit); required: an ownerless tap could be opened by any local user. */
      uid: number;
      gid?: number;
      mtu?: number;
      master?: string;
      up?: boolean;
      mayExist?: boolean;
    }
  | { op: "addrAdd"; dev: string; address: string }
  | { op: "routeAdd"; dst: string; via?: string; dev?: string; onlink?: boolean }
  | { op: "fdbAppend"; name: string; dst: string; mayExist?: boolean }
  | { op: "linkList" }
  | { op: "netnsAdd"; name: string; mayExist?: boolean }
  | { op: "netnsDel"; name: string; ifExists?: boolean }
  | { op: "sysctl"; path: string; value: string }
  | { op: "nft"; json: string }
  | { op: "spawn"; argv: string[]; env?: string[] }
  /** Turn off transmit checksum offload (needed in front of the userspace OVS datapath). */
  | { op: "txCsumOff"; name: string }
  /** Exclusive flock of an open descriptor of this process, no waiting: result "1" taken, "0" busy. */
  | { op: "flockTry"; fd: number };

export interface LinkInfo {
  name: string;
  index: number;
  kind: string;
  master: number;
  up: boolean;
  mtu: number;
  mac: string;
}

export interface SpawnResult {
  pid: number;
  status: number;
  stderr: string;
}

interface Addon {
  run(netnsPath: string, ops: NetOp[]): Promise<string[]>;
}

const load = nativeAddon<Addon>("pcocc_net", "network", "run `npm run build:native` as root");

/** An addon failure; `errno` is set when a system call or netlink request was refused. */
class NetOpError extends PcoccError {
  constructor(
    message: string,
    readonly errno: number | undefined,
  ) {
    super(message);
  }
}

function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** Runs `ops` in order, in namespace `netns` (a name under /run/netns) or the caller's own. */
export async function runOps(ops: NetOp[], netns?: string): Promise<string[]> {
  try {
    return await load().run(netns ? netnsPath(netns) : "", ops);
  } catch (err) {
    if (err instanceof PcoccError) throw err;
    const e = err as Error & { errno?: number };
    throw new NetOpError(e.message, e.errno);
  }
}

export async function listLinks(netns?: string): Promise<LinkInfo[]> {
  const [out] = await runOps([{ op: "linkList" }], netns);
  return JSON.parse(out!) as LinkInfo[];
}

/** Applies one libnftables JSON document atomically; returns libnftables' JSON output (may be empty). */
export async function nft(doc: unknown, netns?: string): Promise<string> {
  const [out] = await runOps([{ op: "nft", json: JSON.stringify(doc) }], netns);
  return out!;
}

/** fork+exec `argv` (absolute path) inside `netns` and waits for that first process to exit. */
export async function spawnIn(
  netns: string | undefined,
  argv: string[],
  env: string[] = [],
): Promise<SpawnResult> {
  const [out] = await runOps([{ op: "spawn", argv, env }], netns);
  return JSON.parse(out!) as SpawnResult;
}
