import { spawn, type ChildProcess } from "node:child_process";
import { access, chmod, constants, mkdir, open, rm, stat, writeFile } from "node:fs/promises";
import type { Server } from "node:net";
import { isAbsolute } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AgentMux } from "../agent/index.js";
import { createQcow2 } from "../image/index.js";
import { exitStatus, log, PcoccError } from "../util/index.js";
import { chooseAccelerator, probeAcceleratorHost, type AcceleratorDecision } from "./accel.js";
import { ConsoleProxy } from "./console-proxy.js";
import { thawRestoredGuest } from "./guest-freeze.js";
import { vmStatePaths, type VmInfo, type VmStatePaths } from "./paths.js";
import type { QmpClient } from "./qmp.js";
import { buildQemuArgv, type QemuPlan } from "./qemu-argv.js";
import { planQemu, virtiofsSockets } from "./qemu-plan.js";
import { describeExit, dieWithHypervisor, EXIT_GRACE_MS, QemuProcess } from "./qemu-process.js";
import { applyCpuBinding, planCpuBinding, taskCores, widenToNode, type CpuBinding } from "./cpu-binding.js";
import { preparePersistentDrives, type PreparedDrives } from "./persistent-drives.js";
import { listenForSaves } from "./save-guard.js";
import { writeSeed, type UserDataSource } from "./seed.js";
import { mountsFromTemplate, type VmSpec, type HypervisorStateChange } from "./spec.js";

/** Creates the VM's copy-on-write overlay: a tiny qcow2 whose backing file is the image's top layer. */
async function createOverlay(base: string, overlay: string): Promise<void> {
  if (!isAbsolute(base)) throw new PcoccError(`image path must be absolute: ${base}`);
  await createQcow2(overlay, { backing: base }).catch((err: Error) => {
    throw new PcoccError(`Unable to handle image: failed to create temporary disk: ${err.message}`);
  });
}

function userDataSource(spec: VmSpec): UserDataSource {
  if (spec.userDataFile) return { kind: "file", path: spec.userDataFile };
  const ud = spec.template["user-data"];
  if (typeof ud === "string") return { kind: "file", path: ud };
  if (ud && typeof ud === "object") return { kind: "inline", value: ud };
  return { kind: "none" };
}

async function usable(path: string, mode: number): Promise<boolean> {
  return access(path, mode).then(
    () => true,
    () => false,
  );
}

async function startVirtiofsd(socket: string, dir: string): Promise<ChildProcess> {
  for (const bin of ["/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"]) {
    if (!(await usable(bin, constants.X_OK))) continue;
    return spawn(
      "setpriv",
      dieWithHypervisor([bin, "--socket-path", socket, "--shared-dir", dir, "--sandbox", "none"]),
      {
        stdio: "ignore",
      },
    );
  }
  throw new PcoccError("virtio-fs mounts need virtiofsd, which is not installed");
}

/** SIGTERM, SIGINT or the spec's abort signal: the VM is to be stopped, in order. */
class StopRequest {
  requested = false;
  readonly stopped: Promise<void>;
  private resolve: () => void = () => undefined;
  private readonly onSignal = (): void => {
    this.requested = true;
    this.resolve();
  };

  constructor(private readonly signal?: AbortSignal) {
    this.stopped = new Promise<void>((r) => (this.resolve = r));
    process.on("SIGTERM", this.onSignal);
    process.on("SIGINT", this.onSignal);
    signal?.addEventListener("abort", this.onSignal);
  }

  dispose(): void {
    process.off("SIGTERM", this.onSignal);
    process.off("SIGINT", this.onSignal);
    this.signal?.removeEventListener("abort", this.onSignal);
  }
}

type Logger = Awaited<ReturnType<typeof log>>;
/** What the hypervisor holds for its VM's life and gives back at its end. */
interface Held {
  drives?: PreparedDrives;
  cpus?: { binding: CpuBinding } | { reason: string };
}

/** `full-node` first takes the whole node; then pcocc's pinning rule over the task's cores. */
async function cpuPlan(spec: VmSpec): Promise<{ binding: CpuBinding } | { reason: string }> {
  const tpl = spec.template;
  if (tpl["full-node"]) await widenToNode();
  return planCpuBinding(await taskCores(), {
    vcpus: spec.vcpus,
    emulatorCores: tpl["emulator-cores"] ?? 0,
    bind: tpl["bind-vcpus"] ?? true,
  });
}
type Report = (change: HypervisorStateChange) => void;

/**
 * `pcocc internal run` for one VM: prepares the state directory, overlay and seed, starts QEMU paused,
 * wires the console, continues the VM, and supervises it until it exits or this process is told to stop.
 * Resolves with the exit status (QEMU's own; 0 after an orderly stop).
 */
export async function runHypervisor(spec: VmSpec): Promise<number> {
  const logger = await log();
  const paths = vmStatePaths(spec.stateDir);
  const report: Report = (change) => {
    logger.info({ vm: spec.name, ...change }, "vm state");
    spec.onState?.(change);
  };
  const stop = new StopRequest(spec.signal);
  const helpers: ChildProcess[] = [];
  let qemu: QemuProcess | undefined;
  let control: QmpClient | undefined;
  let proxy: ConsoleProxy | undefined;
  let agent: AgentMux | undefined;
  let saves: Server | undefined;
  const held: Held = {};
  try {
    const { plan, decision } = await prepareVm(spec, paths, { helpers, held }, report, logger);
    report({ state: "qemu-start", detail: `accelerator ${decision.accel}: ${decision.reason}` });
    qemu = await startQemu(spec, plan, logger);
    spec.onPhase?.("qemu-spawn");
    control = await connectQemu(spec, qemu, paths);
    spec.onPhase?.("qmp-ready");
    if (held.cpus && "binding" in held.cpus)
      await applyCpuBinding(control, qemu.child.pid!, held.cpus.binding);
    saves = await listenForSaves(paths.saveGuardSocket, control);
    proxy = new ConsoleProxy(paths.serialSocket, paths.consoleSocket, paths.consoleLog);
    await proxy.start();
    agent = new AgentMux(paths.agentQemuSocket, paths.agentSocket);
    await agent.start();
    const unwatch = proxy.onOutput(() => {
      unwatch();
      spec.onPhase?.("console");
    });
    await writeVmInfo(spec, paths, qemu, decision.accel, held);
    if (stop.requested) throw new PcoccError("stopped before the VM started");
    await control.execute("cont");
    report({ state: "running" });
    if (spec.restore) thawAfterRestore(spec, paths, logger);
    return await superviseVm(spec, qemu, control, stop, report, logger);
  } catch (err) {
    report({ state: "failed", detail: (err as Error).message });
    throw err;
  } finally {
    stop.dispose();
    saves?.close();
    control?.close();
    await proxy?.close();
    await agent?.close();
    await qemu?.kill();
    for (const h of helpers) h.kill("SIGTERM");
    // QEMU is gone: the drives are free for the next VM
    await held.drives?.locks?.release();
    await rm(spec.stateDir, { recursive: true, force: true });
  }
}

/** Everything QEMU needs before it starts: mounts checked, a fresh state dir, overlay, seed, virtiofsd. */
async function prepareVm(
  spec: VmSpec,
  paths: VmStatePaths,
  own: { helpers: ChildProcess[]; held: Held },
  report: Report,
  logger: Logger,
): Promise<{ plan: QemuPlan; decision: AcceleratorDecision }> {
  report({ state: "topology" });
  own.held.cpus = await cpuPlan(spec);
  if ("reason" in own.held.cpus) logger.info({ vm: spec.name }, `vCPUs not pinned: ${own.held.cpus.reason}`);
  const mounts = mountsFromTemplate(spec.template, spec.mounts);
  for (const m of mounts) {
    const st = await stat(m.path).catch(() => undefined);
    if (!st?.isDirectory()) throw new PcoccError(`unable to access mount point ${m.path}`);
  }
  await rm(spec.stateDir, { recursive: true, force: true });
  await mkdir(spec.stateDir, { recursive: true, mode: 0o700 }).catch((err: Error) => {
    throw new PcoccError(`cannot create the VM state directory ${spec.stateDir}: ${err.message}`);
  });
  await chmod(spec.stateDir, 0o700);

  const decision = chooseAccelerator(spec.template.accelerator ?? "auto", await probeAcceleratorHost());
  logger.info({ vm: spec.name, accel: decision.accel, reason: decision.reason }, "accelerator");

  report({ state: "temporary-disk" });
  if (spec.restore && spec.imagePath && !spec.restore.disk)
    throw new PcoccError(`the checkpoint has no disk for ${spec.name}`);
  const diskBase = spec.restore?.disk ?? spec.imagePath;
  if (diskBase) await createOverlay(diskBase, paths.overlay);
  spec.onPhase?.("overlay");
  const drives = await preparePersistentDrives(spec.template["persistent-drives"] ?? [], {
    model: spec.template["disk-model"] ?? "virtio",
    vmRank: spec.rank,
    locker: spec.driveLocker,
  });
  own.held.drives = drives;
  const { agentNote, factsNote } = await writeSeedFiles(spec, paths);
  spec.onPhase?.("seed");
  // the VM still runs; `pcocc exec` and friends will not reach it, and this says why
  if (agentNote) logger.warn({ vm: spec.name }, `${spec.name} has no guest agent: ${agentNote}`);
  if (factsNote) logger.warn({ vm: spec.name }, `${spec.name}: ${factsNote}`);

  const planMounts = virtiofsSockets(mounts, spec.stateDir);
  for (const m of planMounts)
    if (m.virtiofsSocket) own.helpers.push(await startVirtiofsd(m.virtiofsSocket, m.path));
  const vhostNet = await usable("/dev/vhost-net", constants.R_OK | constants.W_OK);
  const nics = spec.nicsReady ? await spec.nicsReady : spec.nics;
  const plan = planQemu(
    { ...spec, nics },
    { accel: decision.accel, diskBase, paths, mounts: planMounts, vhostNet, persistentDrives: drives.drives },
  );
  return { plan, decision };
}

/**
 * The NoCloud seed, and its two documents next to it for `pcocc` verbs that show them. Returns why the VM
 * has no guest agent or no cluster facts file, if so.
 */
async function writeSeedFiles(
  spec: VmSpec,
  paths: VmStatePaths,
): Promise<{ agentNote?: string; factsNote?: string }> {
  let seedDocs: Awaited<ReturnType<typeof writeSeed>>;
  try {
    seedDocs = await writeSeed(paths.seed, {
      hostname: spec.hostname,
      instanceId: spec.instanceId ?? spec.template["instance-id"] ?? undefined,
      userData: userDataSource(spec),
      facts: spec.facts,
    });
  } catch (err) {
    throw new PcoccError(`VM execution error: unable to generate cloud-init iso: ${(err as Error).message}`);
  }
  await writeFile(paths.metaData, seedDocs.metaData, { mode: 0o600 });
  await writeFile(paths.userData, seedDocs.userData, { mode: 0o600 });
  return seedDocs;
}

async function startQemu(spec: VmSpec, plan: QemuPlan, logger: Logger): Promise<QemuProcess> {
  const argv = buildQemuArgv(plan);
  logger.debug({ argv }, "starting qemu");
  const incoming = spec.restore ? await openIncoming(spec.restore.memory) : undefined;
  const qemu = QemuProcess.start(argv, { inheritStderr: spec.qemuStderr, incoming });
  await incoming?.close();
  return qemu;
}

/** The hypervisor's monitor, once QEMU is up (and, restoring, has read the whole checkpointed state). */
async function connectQemu(spec: VmSpec, qemu: QemuProcess, paths: VmStatePaths): Promise<QmpClient> {
  const restoring = (why: string): string =>
    spec.restore ? `unable to restore ${spec.name} from ${spec.restore.memory}: ${why}` : why;
  let control: QmpClient;
  try {
    control = await qemu.connectControl(paths.controlQmpSocket);
  } catch (err) {
    const e = await qemu.exitWithin(EXIT_GRACE_MS);
    if (e)
      throw new PcoccError(restoring(`qemu exited during init with ${describeExit(e)}: ${qemu.stderrTail}`));
    throw err;
  }
  if (!spec.restore) return control;
  try {
    await waitIncomingLoaded(control);
  } catch (err) {
    control.close();
    const e = await qemu.exitWithin(EXIT_GRACE_MS);
    throw new PcoccError(
      restoring(e ? `qemu exited with ${describeExit(e)}: ${qemu.stderrTail}` : (err as Error).message),
    );
  }
  return control;
}

async function writeVmInfo(
  spec: VmSpec,
  paths: VmStatePaths,
  qemu: QemuProcess,
  accel: string,
  held: Held,
): Promise<void> {
  const info: VmInfo = {
    name: spec.name,
    rank: spec.rank,
    pid: process.pid,
    qemuPid: qemu.child.pid,
    imageUri: spec.imageUri,
    imagePath: spec.imagePath,
    accel,
    memoryMiB: spec.memoryMiB,
    vcpus: spec.vcpus,
    restored: spec.restore !== undefined,
    persistentDrives: held.drives?.drives.map((d) => ({ node: d.node, path: d.path, backup: d.backup })),
    cpuBinding: held.cpus && ("binding" in held.cpus ? held.cpus.binding : held.cpus),
    remoteDisplay: spec.template["remote-display"] ?? undefined,
  };
  await writeFile(paths.info, JSON.stringify(info), { mode: 0o600 });
}

/** Waits for QEMU to exit on its own or for a stop request, which stops it in order. */
async function superviseVm(
  spec: VmSpec,
  qemu: QemuProcess,
  control: QmpClient,
  stop: StopRequest,
  report: Report,
  logger: Logger,
): Promise<number> {
  const first = await Promise.race([qemu.exited, stop.stopped.then(() => null)]);
  if (first) {
    if (first.code === 0) {
      report({ state: "stopped" });
      return 0;
    }
    const tail = qemu.stderrTail;
    const reason = `qemu exited with ${describeExit(first)}${tail ? `: ${tail}` : ""}`;
    report({ state: "failed", detail: reason });
    logger.error({ vm: spec.name }, reason);
    return exitStatus(first.code, first.signal);
  }
  report({ state: "stopping" });
  const e = await qemu.stop(control, {
    powerdown: spec.shutdown === "powerdown",
    powerdownGraceMs: spec.powerdownGraceMs ?? 10_000,
  });
  report({ state: "stopped" });
  return e.code === 0 || e.signal === "SIGTERM" ? 0 : exitStatus(e.code, e.signal);
}

/** In the background: the VM runs, and its users' commands need not wait for this. */
function thawAfterRestore(spec: VmSpec, paths: VmStatePaths, logger: Logger): void {
  thawRestoredGuest({ name: spec.name, paths }).then(
    (n) => logger.info({ vm: spec.name, thawed: n }, "restored guest thawed"),
    (err: Error) => logger.warn({ vm: spec.name }, `restored guest not thawed: ${err.message}`),
  );
}

async function openIncoming(memory: string) {
  return open(memory, "r").catch((err: Error) => {
    throw new PcoccError(`unable to read the checkpoint ${memory}: ${err.message}`);
  });
}

/** A restoring VM stays `inmigrate` until QEMU has read its whole state; it is paused (-S) after. */
async function waitIncomingLoaded(qmp: QmpClient): Promise<void> {
  for (;;) {
    const { status } = await qmp.execute<{ status: string }>("query-status");
    if (status !== "inmigrate") return;
    await sleep(200);
  }
}
