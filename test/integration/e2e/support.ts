import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { nodeExec, userExec, userSpawn, type LabInfo, type LabUser } from "../../../src/lab/index.js";
import { run } from "../../../src/lab/procs.js";
import { exitStatus } from "../../../src/util/exit-status.js";
import { VM_STATE_ROOT } from "../../../src/vm/index.js";
import { useLab } from "../../support/lab.js";

/**
 * Helpers shared by the end-to-end tests: a user ready to log into VMs, what a node holds (to prove a job
 * left nothing behind), the job's keys in etcd, and waiting on conditions (never on fixed sleeps).
 */

export const TINY = "lab-tiny";

/** Polls `probe` until it returns a value; fails with `what` and the last observation after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 120_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Address of vmN on the private L2 network (eth1). That network has no DHCP (as in pcocc), so the
 * user-data numbers it from the hostname, the way pcocc's tutorial cloud-config does.
 */
export const privateIp = (rank: number): string => `192.168.77.${rank + 1}`;

/**
 * An ssh key for the user and a user-data file that lets them log into every VM under their own name
 * and configures the private network.
 */
export async function prepareUser(info: LabInfo, user: LabUser = info.user): Promise<{ userData: string }> {
  const key = `${user.home}/.ssh/id_ed25519`;
  await userExec(
    info,
    [
      "sh",
      "-c",
      `mkdir -p ~/.ssh && chmod 700 ~/.ssh && [ -f ${key} ] || ssh-keygen -q -t ed25519 -N '' -f ${key}`,
    ],
    {
      user,
    },
  );
  const pub = readFileSync(`${key}.pub`, "utf8").trim();
  const userData = `${user.home}/e2e-user-data.yaml`;
  const doc =
    `#cloud-config\nusers:\n  - name: ${user.name}\n    ssh_authorized_keys:\n      - ${pub}\n` +
    `runcmd:\n  - "n=$(hostname); ip addr add 192.168.77.$((\${n#vm} + 1))/24 dev eth1; ip link set eth1 up"\n`;
  const r = await userExec(info, ["sh", "-c", `cat > ${userData}`], { user, input: doc });
  if (r.code !== 0) throw new Error(`cannot write ${userData}: ${r.stderr}`);
  return { userData };
}

/** Writes an executable script in the user's home. */
export async function writeUserScript(
  info: LabInfo,
  name: string,
  body: string,
  user = info.user,
): Promise<string> {
  const path = `${user.home}/${name}`;
  const r = await userExec(info, ["sh", "-c", `cat > ${path} && chmod 755 ${path}`], { user, input: body });
  if (r.code !== 0) throw new Error(`cannot write ${path}: ${r.stderr}`);
  return path;
}

export interface NodeSnapshot {
  links: string[];
  netns: string[];
  ovs: string[];
  nft: string[];
  processes: string[];
  stateDirs: string[];
}

async function lines(info: LabInfo, node: LabInfo["nodes"][number], argv: string[]): Promise<string[]> {
  const r = await nodeExec(node, argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} on ${node.name} failed: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

/**
 * What pcocc can leave on a node: links, namespaces, OVS bridges and ports, nftables tables/chains,
 * dnsmasq/QEMU/hypervisor processes, VM state directories.
 */
export async function nodeSnapshot(info: LabInfo, node: LabInfo["nodes"][number]): Promise<NodeSnapshot> {
  const [links, netns, ovs, nft, procs, stateDirs] = await Promise.all([
    lines(info, node, ["sh", "-c", "ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//'"]),
    lines(info, node, ["sh", "-c", "ls /run/netns 2>/dev/null || true"]),
    lines(info, node, [
      "sh",
      "-c",
      "for b in $(ovs-vsctl --timeout=5 list-br); do echo br:$b; for p in $(ovs-vsctl --timeout=5 list-ports $b); do echo port:$b:$p; done; done",
    ]),
    lines(info, node, [
      "sh",
      "-c",
      "nft list ruleset | grep -E '^\\s*(table|chain|set|map) ' | sed 's/{.*//'",
    ]),
    lines(info, node, [
      "sh",
      "-c",
      // processes living in this node's network namespace
      'me=$(readlink /proc/self/ns/net); for p in /proc/[0-9]*; do [ "$(readlink $p/ns/net 2>/dev/null)" = "$me" ] || continue; c=$(tr "\\0" " " < $p/cmdline 2>/dev/null); case "$c" in *dnsmasq*|*qemu-system*|*"internal run"*) echo "$c";; esac; done',
    ]),
    lines(info, node, ["sh", "-c", `ls -A ${VM_STATE_ROOT} 2>/dev/null || true`]),
  ]);
  return { links, netns, ovs, nft, processes: procs, stateDirs };
}

/** What `after` holds that `before` did not, per category (empty = the node is back to its state). */
export function leftovers(before: NodeSnapshot, after: NodeSnapshot): Partial<NodeSnapshot> {
  const out: Partial<NodeSnapshot> = {};
  for (const k of Object.keys(after) as Array<keyof NodeSnapshot>) {
    const extra = after[k].filter((x) => !before[k].includes(x));
    if (extra.length) out[k] = extra;
  }
  return out;
}

export async function snapshotAll(info: LabInfo): Promise<NodeSnapshot[]> {
  return Promise.all(info.nodes.map((n) => nodeSnapshot(info, n)));
}

/** What every e2e file starts from: the lab, its users ready to log into VMs, set-up nodes and their baseline. */
export async function e2eSetup(opts: { secondUser?: boolean } = {}): Promise<{
  info: LabInfo;
  userData: string;
  baseline: NodeSnapshot[];
}> {
  const info = await useLab();
  const { userData } = await prepareUser(info);
  if (opts.secondUser) await prepareUser(info, info.user2);
  await initNodes(info);
  return { info, userData, baseline: await snapshotAll(info) };
}

/** Runs `pcocc internal setup init` as root on every node, so baselines include the node-level objects. */
export async function initNodes(info: LabInfo): Promise<void> {
  await Promise.all(
    info.nodes.map(async (n) => {
      const r = await nodeExec(n, ["pcocc", "internal", "setup", "init"], {
        env: { PCOCC_SYSTEM_CONF_DIR: info.pcoccConfDir },
      });
      if (r.code !== 0) throw new Error(`setup init on ${n.name}: ${r.stderr}`);
    }),
  );
}

/** Waits until every node holds nothing more than its baseline. */
export async function expectNodesClean(
  info: LabInfo,
  baseline: NodeSnapshot[],
  timeoutMs = 90_000,
): Promise<void> {
  let last: Array<Partial<NodeSnapshot>> = [];
  try {
    await waitUntil(
      "every node to be clean",
      async () => {
        const now = await snapshotAll(info);
        last = now.map((s, i) => leftovers(baseline[i]!, s));
        return last.every((l) => Object.keys(l).length === 0);
      },
      timeoutMs,
      1000,
    );
  } catch {
    throw new Error(
      `nodes not clean: ${JSON.stringify(last.map((l, i) => ({ node: info.nodes[i]!.name, ...l })))}`,
    );
  }
  // a job whose end went wrong (e.g. an epilog error) makes SLURM drain its nodes: that test fails here,
  // and the next lab up resumes them for the tests after it
  const sinfo = await userExec(info, ["sinfo", "-h", "-N", "-o", "%N|%T|%E"]);
  const drained = sinfo.stdout
    .trim()
    .split("\n")
    .filter((l) => /drain/i.test(l.split("|")[1] ?? ""));
  expect(drained, "nodes SLURM drained").toEqual([]);
}

// ETCDCTL_ENDPOINTS must not be set together with --endpoints (etcdctl 3.4 refuses)
const ETCD_ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH, ETCDCTL_API: "3" };

/** etcdctl as etcd root (the lab's root password). */
export async function etcdRoot(
  info: LabInfo,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const pw = readFileSync(info.etcd.rootPasswordFile, "utf8").trim();
  return run(
    [
      "etcdctl",
      `--endpoints=${info.etcd.endpoints.join(",")}`,
      `--cacert=${info.etcd.caCert}`,
      `--user=root:${pw}`,
      ...args,
    ],
    {
      env: ETCD_ENV,
    },
  );
}

/** etcdctl as a lab user, with the keystore password pcocc created for them. */
export async function etcdAsUser(
  info: LabInfo,
  user: LabUser,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const pw = readFileSync(`${user.home}/.pcocc/.etcd-password`, "utf8").trim();
  return run(
    [
      "etcdctl",
      `--endpoints=${info.etcd.endpoints.join(",")}`,
      `--cacert=${info.etcd.caCert}`,
      `--user=${user.name}:${pw}`,
      ...args,
    ],
    {
      env: ETCD_ENV,
    },
  );
}

/** Every key that belongs to job `jobId`, of any user. */
export async function jobKeys(info: LabInfo, jobId: number): Promise<string[]> {
  const r = await etcdRoot(info, ["get", "--prefix", "--keys-only", "/pcocc/"]);
  if (r.code !== 0) throw new Error(`etcdctl: ${r.stderr}`);
  const re = new RegExp(
    `^/pcocc/(cluster/${jobId}/|cluster/users/[^/]+/${jobId}/|global/users/[^/]+/clusters/${jobId}/|global/jobs/${jobId}/)`,
  );
  return r.stdout
    .split("\n")
    .filter((k) => re.test(k))
    .filter((k) => !k.endsWith("/destroyed"));
}

export async function expectNoJobKeys(info: LabInfo, jobId: number, timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    `the keys of job ${jobId} to disappear`,
    async () => (await jobKeys(info, jobId)).length === 0,
    timeoutMs,
  );
}

/** squeue says the job is over. */
export async function expectJobGone(info: LabInfo, jobId: number, timeoutMs = 60_000): Promise<void> {
  await waitUntil(
    `job ${jobId} to leave squeue`,
    async () => {
      const r = await userExec(info, ["squeue", "-h", "-j", String(jobId), "-o", "%T"]);
      return r.stdout.trim() === "" || /COMPLETED|CANCELLED|FAILED/.test(r.stdout);
    },
    timeoutMs,
  );
}

/** A running `pcocc` command as the lab user, with its output collected. */
export function spawnPcocc(
  info: LabInfo,
  args: string[],
  opts: { user?: LabUser; env?: Record<string, string> } = {},
) {
  const child = userSpawn(info, ["pcocc", ...args], { user: opts.user, env: opts.env });
  const out = { stdout: "", stderr: "" };
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out.stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (out.stderr += d));
  const exited = new Promise<number>((resolve) =>
    child.on("close", (code, sig) => resolve(exitStatus(code, sig))),
  );
  return { child, out, exited };
}

/** The job id salloc/sbatch announced. */
export function jobIdFrom(text: string): number | undefined {
  const m = /(?:Granted job allocation|Submitted batch job|allocation) (\d+)/.exec(text);
  return m ? Number(m[1]) : undefined;
}
