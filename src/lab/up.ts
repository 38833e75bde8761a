import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { labLeftovers, teardownLab } from "./down.js";
import { etcdTlsPaths, setupEtcdAuth, startEtcd } from "./etcd.js";
import {
  LAB_HOST,
  LAB_NET,
  NODE_RUN_DIRS,
  etcdEndpoint,
  labPaths,
  nodeIp,
  nodeName,
  repoRoot,
} from "./layout.js";
import { PACKAGE_NAME, checkoutPcocc, installPackage, purgePackage } from "./package.js";
import { PcoccError } from "../util/errors.js";
import type { LabPaths } from "./layout.js";
import { startMunged } from "./munge.js";
import { createLabNetwork, nodeNetBatch } from "./network.js";
import { renderPcoccConfig } from "./pcocc-conf.js";
import type { GuestBoot } from "./pcocc-conf.js";
import { runOk } from "./procs.js";
import {
  createOvsDb,
  resumeDrainedNodes,
  slurmEnv,
  startNode,
  startSlurmctld,
  waitNodesReady,
} from "./slurm.js";
import { renderCgroupConf, renderHosts, renderPlugstack, renderSlurmConf } from "./slurm-conf.js";
import { labRunning, readLabState, writeLabState } from "./state.js";
import type { LabInfo, LabPcocc, LabState, LabUpOptions } from "./types.js";
import { ensureLabUsers } from "./users.js";

type Options = LabState["options"];

export function resolveOptions(opts: LabUpOptions): Options {
  const nodes = opts.nodes ?? 2;
  const cpus = opts.cpus ?? 4;
  const memMiB = opts.memMiB ?? 4096;
  for (const [key, v, max] of [
    ["nodes", nodes, 64],
    ["cpus", cpus, 256],
    ["mem", memMiB, 1 << 22],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > max)
      throw new PcoccError(`lab: ${key} must be an integer from 1 to ${max}`);
  }
  const prologFlags = opts.prologFlags ?? "";
  if (!/^[A-Za-z,]*$/.test(prologFlags)) throw new PcoccError(`lab: invalid PrologFlags '${prologFlags}'`);
  return { nodes, cpus, memMiB, prologFlags };
}

/** Only what the caller asked for counts: `up` with no options accepts a running lab of any shape. */
export function satisfies(running: Options, asked: LabUpOptions): boolean {
  return (
    (asked.nodes === undefined || asked.nodes === running.nodes) &&
    (asked.cpus === undefined || asked.cpus === running.cpus) &&
    (asked.memMiB === undefined || asked.memMiB === running.memMiB) &&
    (asked.prologFlags === undefined || asked.prologFlags === running.prologFlags)
  );
}

/** The running lab if it has the shape asked for; otherwise a fresh one (after tearing down any leftovers). */
export async function bringUp(paths: LabPaths, opts: LabUpOptions): Promise<LabInfo> {
  const options = resolveOptions(opts);
  const t0 = Date.now();
  const progress = opts.onProgress ?? (() => {});
  const say = (m: string) => progress(`${m} [${((Date.now() - t0) / 1000).toFixed(2)} s]`);
  await claimHost(paths);
  const current = readLabState(paths);
  const reuse = current?.ready && labRunning(current) && satisfies(current.options, opts) ? current : null;
  if (!reuse && (current || labLeftovers(paths).length)) {
    say("stopping the previous lab");
    await teardownLab(paths);
  }
  const pcocc = await choosePcocc(reuse, opts.fromPackage, say);
  if (reuse) {
    const info = { ...reuse.info, pcocc };
    writeLabState(paths, { ...reuse, info, installedPackage: pcocc.source === "package" });
    await refreshPlugstack(paths, pcocc);
    const resumed = await resumeDrainedNodes(paths);
    // on stderr even when nobody follows the progress: a drain means an earlier job's end went wrong
    if (resumed.length)
      process.stderr.write(`lab: WARNING: SLURM had drained ${resumed.join(", ")}: resumed\n`);
    say(`lab already up, running pcocc from the ${pcocc.source}`);
    return info;
  }
  try {
    return await startLab(paths, options, pcocc, say);
  } catch (err) {
    say(`start failed: stopping what was started (logs stay in ${paths.log})`);
    await teardownLab(paths);
    throw err;
  }
}

/**
 * The package asked for, installed; or the checkout, after purging a package an earlier `up` installed
 * (the teardown of a lab that is not reused has purged it already).
 */
async function choosePcocc(
  running: LabState | null,
  fromPackage: string | undefined,
  say: (m: string) => void,
): Promise<LabPcocc> {
  if (fromPackage) {
    say(`installing ${fromPackage}`);
    return installPackage(fromPackage);
  }
  if (running?.installedPackage) {
    say(`purging the ${PACKAGE_NAME} package the lab installed`);
    await purgePackage();
  }
  return checkoutPcocc();
}

async function startLab(
  paths: LabPaths,
  options: Options,
  pcocc: LabPcocc,
  say: (m: string) => void,
): Promise<LabInfo> {
  const [user, user2] = await ensureLabUsers();
  const nodes = Array.from({ length: options.nodes }, (_, i) => ({ name: nodeName(i), ip: nodeIp(i) }));
  prepareDirs(paths, nodes);
  const secrets = ensureSecrets(paths);
  const createdMountpoints = ensureMountpoints();
  const controllerHost = hostname().split(".")[0] ?? "localhost";
  writeSlurmFiles(paths, controllerHost, nodes, options, pcocc);
  writePcoccConfig(paths, null);

  say(`starting etcd, munged, slurmctld and ${nodes.length} nodes`);
  await createLabNetwork(nodes, join(paths.run, "net.batch"));
  const ovsDbs = Promise.all(nodes.map((n) => createOvsDb(paths.node(n.name).ovsDb)));
  ovsDbs.catch(() => {});
  const etcdPid = await startEtcd(paths);
  const etcdReady = setupEtcdAuth(paths, etcdPid, secrets.etcdPassword);
  etcdReady.catch(() => {});
  const mungedPid = await startMunged(paths);
  const ctldPid = await startSlurmctld(paths);
  await ovsDbs;
  const started = nodes.map((n) => ({ ...n, pid: startNode(paths, n.name) }));

  const info: LabInfo = {
    dir: paths.dir,
    nodes: started,
    controllerIp: LAB_NET.controllerIp,
    slurmConf: paths.slurmConf,
    pcoccConfDir: paths.pcoccConfDir,
    etcd: {
      endpoints: [etcdEndpoint()],
      rootPasswordFile: paths.etcdPasswordFile,
      caCert: etcdTlsPaths(paths).caCert,
    },
    user,
    user2,
    pcocc,
  };
  const state: LabState = {
    info,
    options,
    daemons: { etcd: etcdPid, munged: mungedPid, slurmctld: ctldPid },
    createdMountpoints,
    installedPackage: pcocc.source === "package",
    ready: false,
  };
  // Recorded before waiting so that a failed start is still torn down by pid.
  writeLabState(paths, state);
  await Promise.all([
    etcdReady.then(() => say("etcd ready with authentication")),
    waitNodesReady(paths, started).then(() => say("all nodes idle, Open vSwitch up in each")),
  ]);
  writeLabState(paths, { ...state, ready: true });
  return info;
}

/** Refuses to start beside a running lab in another directory; takes over what a dead one left. */
async function claimHost(paths: LabPaths): Promise<void> {
  let owner = "";
  try {
    owner = readFileSync(LAB_HOST.ownerFile, "utf8").trim();
  } catch {
    /* no lab on this machine */
  }
  if (owner && owner !== paths.dir) {
    const other = readLabState(labPaths(owner));
    if (other && labRunning(other)) {
      throw new PcoccError(`another lab is up in ${owner} (PCOCC_LAB_DIR): take it down first`);
    }
    await teardownLab(labPaths(owner));
  }
  writeFileSync(LAB_HOST.ownerFile, paths.dir + "\n");
}

function prepareDirs(paths: LabPaths, nodes: Array<{ name: string }>): void {
  // runtime state never survives an up: etcd, slurm state, node run dirs and OVS dbs start fresh
  for (const p of [paths.run, paths.state, paths.nodes, paths.mungeSocket])
    rmSync(p, { recursive: true, force: true });
  for (const d of [
    paths.dir,
    paths.etc,
    paths.slurmDir,
    paths.pcoccConfDir,
    join(paths.pcoccConfDir, "helpers"),
  ]) {
    mkdirSync(d, { recursive: true, mode: 0o755 });
    chmodSync(d, 0o755);
  }
  for (const d of [paths.run, paths.log, paths.ctldState, paths.spool, paths.images]) {
    mkdirSync(d, { recursive: true, mode: 0o755 });
  }
  mkdirSync(paths.etcdData, { recursive: true, mode: 0o700 });
  // munged insists on a world-searchable socket directory
  mkdirSync(paths.mungeDir, { recursive: true, mode: 0o755 });
  chmodSync(paths.mungeDir, 0o755);
  for (const n of nodes) {
    const np = paths.node(n.name);
    for (const d of [np.ovsRun, np.pcoccRun, join(np.ovsDb, "..")])
      mkdirSync(d, { recursive: true, mode: 0o755 });
    // as root-only as a real node's may be (an earlier plugin made it 0700): pcocc must cope
    chmodSync(np.pcoccRun, 0o700);
    writeFileSync(np.netConfig, nodeNetBatch(nodeIpOf(n.name, nodes)));
  }
}

function nodeIpOf(name: string, nodes: Array<{ name: string; ip?: string }>): string {
  const n = nodes.find((x) => x.name === name);
  if (!n?.ip) throw new Error(`no address for ${name}`);
  return n.ip;
}

/** The munge key and the etcd root password are made once and kept (root-only) across ups. */
function ensureSecrets(paths: LabPaths): { etcdPassword: string } {
  if (!existsSync(paths.mungeKey)) writeFileSync(paths.mungeKey, randomBytes(1024), { mode: 0o400 });
  chmodSync(paths.mungeKey, 0o400);
  if (!existsSync(paths.etcdPasswordFile)) {
    writeFileSync(paths.etcdPasswordFile, randomBytes(16).toString("hex") + "\n", { mode: 0o600 });
  }
  chmodSync(paths.etcdPasswordFile, 0o600);
  return { etcdPassword: readFileSync(paths.etcdPasswordFile, "utf8").trim() };
}

/** Empty host directories the node mount namespaces bind over; only the ones made here are removed later. */
function ensureMountpoints(): string[] {
  const created: string[] = [];
  for (const dir of NODE_RUN_DIRS) {
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      created.push(dir);
    }
  }
  return created;
}

function writeSlurmFiles(
  paths: LabPaths,
  controllerHost: string,
  nodes: Array<{ name: string; ip: string }>,
  options: Options,
  pcocc: LabPcocc,
): void {
  writeFileSync(
    paths.slurmConf,
    renderSlurmConf({
      controllerHost,
      nodes,
      cpus: options.cpus,
      memMiB: options.memMiB,
      prologFlags: options.prologFlags,
      paths: {
        ctldState: paths.ctldState,
        spool: paths.spool,
        log: paths.log,
        run: paths.run,
        mungeSocket: paths.mungeSocket,
        plugstackConf: paths.plugstackConf,
      },
    }),
  );
  writeFileSync(paths.plugstackConf, plugstack(paths, pcocc));
  writeFileSync(paths.cgroupConf, renderCgroupConf(existsSync("/sys/fs/cgroup/cgroup.controllers")));
  writeFileSync(paths.hosts, renderHosts(controllerHost, nodes));
}

function plugstack(paths: LabPaths, pcocc: LabPcocc): string {
  return renderPlugstack(pcocc.spank, pcocc.bin, paths.pcoccConfDir);
}

/** The SPANK plugin may be built, or the pcocc in use changed, while the lab runs: no restart needed. */
async function refreshPlugstack(paths: LabPaths, pcocc: LabPcocc): Promise<void> {
  const wanted = plugstack(paths, pcocc);
  if (readFileSync(paths.plugstackConf, "utf8") === wanted) return;
  writeFileSync(paths.plugstackConf, wanted);
  await runOk(["scontrol", "reconfigure"], { env: slurmEnv(paths) });
}

export function writePcoccConfig(
  paths: LabPaths,
  guests: { cloud: GuestBoot; tiny: GuestBoot; vslurm: GuestBoot } | null,
): void {
  const files = renderPcoccConfig({
    imagesRepo: paths.images,
    guests,
    etcdCaCert: etcdTlsPaths(paths).caCert,
  });
  for (const [name, content] of Object.entries(files)) {
    // keep templates from an earlier up while this one has not prepared the guests (yet)
    if (name === "templates.yaml" && !guests && existsSync(join(paths.pcoccConfDir, name))) continue;
    writeFileSync(join(paths.pcoccConfDir, name), content, { mode: 0o644 });
  }
}

export async function runInstallDeps(): Promise<void> {
  await runOk(["bash", join(repoRoot(), "src", "lab", "install-deps.sh")], { timeoutMs: 30 * 60_000 });
  // QEMU, running as the job's user, attaches to the taps root made for it through /dev/net/tun.
  // Debian's udev rules make it 0666; machines without udev (containers) may leave it 0600.
  if (existsSync("/dev/net/tun")) chmodSync("/dev/net/tun", 0o666);
}
