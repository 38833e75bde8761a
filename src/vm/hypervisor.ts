import { spawn, type ChildProcess } from "node:child_process";
import { access, chmod, constants, mkdir, open, rm, stat, writeFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_KERNEL_ARGS } from "../config/index.js";
import { createQcow2 } from "../image/index.js";
import { log, PcoccError } from "../util/index.js";
import { chooseAccelerator, probeAcceleratorHost } from "./accel.js";
import { ConsoleProxy } from "./console-proxy.js";
import { vmStatePaths, type VmInfo } from "./paths.js";
import { QmpClient } from "./qmp.js";
import { buildQemuArgv, type QemuPlan } from "./qemu-argv.js";
import { writeSeed, type UserDataSource } from "./seed.js";
import { mountsFromTemplate, type VmSpec, type HypervisorStateChange } from "./spec.js";

const QUIT_TIMEOUT_MS = 5000;
const TERM_TIMEOUT_MS = 5000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function exitStatus(e: Exit): number {
  if (e.code !== null) return e.code;
  const signals: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGSEGV: 11, SIGABRT: 6 };
  return 128 + (signals[e.signal ?? ""] ?? 1);
}

function describeExit(e: Exit): string {
  return e.code !== null ? `status ${e.code}` : `signal ${e.signal}`;
}

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

/**
 * `pcocc internal run` for one VM: prepares the state directory, overlay and seed, starts QEMU paused,
 * wires the console, continues the VM, and supervises it until it exits or this process is told to stop.
 * Resolves with the exit status (QEMU's own; 0 after an orderly stop).
 */
export async function runHypervisor(spec: VmSpec): Promise<number> {
  const logger = await log();
  const paths = vmStatePaths(spec.stateDir);
  const report = (change: HypervisorStateChange): void => {
    logger.info({ vm: spec.name, ...change }, "vm state");
    spec.onState?.(change);
  };
  const helpers: ChildProcess[] = [];
  let qemu: ChildProcess | undefined;
  let control: QmpClient | undefined;
  let proxy: ConsoleProxy | undefined;
  let stopRequested = false;
  let requestStop: () => void = () => undefined;
  const onSignal = (): void => {
    stopRequested = true;
    requestStop();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  spec.signal?.addEventListener("abort", onSignal);

  try {
    report({ state: "topology" });
    const mounts = mountsFromTemplate(spec.template, spec.mounts);
    for (const m of mounts) {
      const st = await stat(m.path).catch(() => undefined);
      if (!st?.isDirectory()) throw new PcoccError(`unable to access mount point ${m.path}`);
    }
    await rm(spec.stateDir, { recursive: true, force: true });
    await mkdir(spec.stateDir, { recursive: true, mode: 0o700 });
    await chmod(spec.stateDir, 0o700);

    const decision = chooseAccelerator(spec.template.accelerator ?? "auto", await probeAcceleratorHost());
    logger.info({ vm: spec.name, accel: decision.accel, reason: decision.reason }, "accelerator");

    report({ state: "temporary-disk" });
    if (spec.restore && spec.imagePath && !spec.restore.disk)
      throw new PcoccError(`the checkpoint has no disk for ${spec.name}`);
    const diskBase = spec.restore?.disk ?? spec.imagePath;
    if (diskBase) await createOverlay(diskBase, paths.overlay);
    let seedDocs: { metaData: string; userData: string };
    try {
      seedDocs = await writeSeed(paths.seed, {
        hostname: spec.hostname,
        instanceId: spec.instanceId ?? spec.template["instance-id"] ?? undefined,
        userData: userDataSource(spec),
      });
    } catch (err) {
      throw new PcoccError(
        `VM execution error: unable to generate cloud-init iso: ${(err as Error).message}`,
      );
    }
    await writeFile(paths.metaData, seedDocs.metaData, { mode: 0o600 });
    await writeFile(paths.userData, seedDocs.userData, { mode: 0o600 });

    const planMounts: QemuPlan["mounts"] = [];
    for (const [i, m] of mounts.entries()) {
      if (m.type !== "virtio-fs") {
        planMounts.push(m);
        continue;
      }
      const socket = join(spec.stateDir, `virtio_fsd_${i}`);
      helpers.push(await startVirtiofsd(socket, m.path));
      planMounts.push({ ...m, virtiofsSocket: socket });
    }
    const tpl = spec.template;
    const plan: QemuPlan = {
      binary: tpl["qemu-bin"] ?? "qemu-system-x86_64",
      name: spec.name,
      accel: decision.accel,
      machine: tpl["machine-type"] ?? "pc",
      cpuModel: tpl["cpu-model"] ?? undefined,
      memoryMiB: spec.memoryMiB,
      vcpus: spec.vcpus,
      disk: diskBase
        ? { path: paths.overlay, model: tpl["disk-model"] ?? "virtio", cache: tpl["disk-cache"] ?? "unsafe" }
        : undefined,
      seedPath: paths.seed,
      kernel: tpl.kernel
        ? {
            path: tpl.kernel,
            initrd: tpl.initrd ?? undefined,
            args: tpl["kernel-args"] ?? DEFAULT_KERNEL_ARGS,
          }
        : undefined,
      nics: spec.nics.map((n) => ({ ...n, model: n.model ?? tpl["nic-model"] ?? undefined })),
      userNet: spec.userNet,
      vhostNet: spec.nics.length > 0 && (await usable("/dev/vhost-net", constants.R_OK | constants.W_OK)),
      mounts: planMounts,
      controlQmpSocket: paths.controlQmpSocket,
      qmpSocket: paths.qmpSocket,
      serialSocket: paths.serialSocket,
      customArgs: tpl["custom-args"] ?? [],
      incomingFd: spec.restore ? INCOMING_FD : undefined,
    };
    const argv = buildQemuArgv(plan);

    report({ state: "qemu-start", detail: `accelerator ${decision.accel}: ${decision.reason}` });
    logger.debug({ argv }, "starting qemu");
    const incoming = spec.restore ? await openIncoming(spec.restore.memory) : undefined;
    const child = spawn("setpriv", dieWithHypervisor(argv), {
      detached: true,
      stdio: ["ignore", "ignore", spec.qemuStderr ? "inherit" : "pipe", ...(incoming ? [incoming.fd] : [])],
    });
    await incoming?.close();
    qemu = child;
    let stderrTail = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (s: string) => (stderrTail = (stderrTail + s).slice(-4096)));
    const exited = new Promise<Exit>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", (err) => {
        stderrTail += err.message;
        resolve({ code: 127, signal: null });
      });
    });
    const exitAbort = new AbortController();
    void exited.then(() => exitAbort.abort());

    try {
      control = await QmpClient.connect(paths.controlQmpSocket, {
        timeoutMs: 60_000,
        signal: exitAbort.signal,
      });
    } catch (err) {
      const e = await Promise.race([exited, sleep(2000, null, { ref: false })]);
      if (e) {
        const why = `qemu exited during init with ${describeExit(e)}: ${stderrTail.trim()}`;
        throw new PcoccError(
          spec.restore ? `unable to restore ${spec.name} from ${spec.restore.memory}: ${why}` : why,
        );
      }
      throw err;
    }
    if (spec.restore) {
      try {
        await waitIncomingLoaded(control);
      } catch (err) {
        const e = await Promise.race([exited, sleep(2000, null, { ref: false })]);
        const why = e ? `qemu exited with ${describeExit(e)}: ${stderrTail.trim()}` : (err as Error).message;
        throw new PcoccError(`unable to restore ${spec.name} from ${spec.restore.memory}: ${why}`);
      }
    }
    proxy = new ConsoleProxy(paths.serialSocket, paths.consoleSocket, paths.consoleLog);
    await proxy.start();
    const info: VmInfo = {
      name: spec.name,
      rank: spec.rank,
      pid: process.pid,
      qemuPid: child.pid,
      imageUri: spec.imageUri,
      imagePath: spec.imagePath,
      accel: decision.accel,
      memoryMiB: spec.memoryMiB,
      vcpus: spec.vcpus,
      restored: spec.restore !== undefined,
    };
    await writeFile(paths.info, JSON.stringify(info), { mode: 0o600 });
    if (stopRequested) throw new PcoccError("stopped before the VM started");
    await control.execute("cont");
    report({ state: "running" });

    const ctl = control;
    const stopped = new Promise<void>((resolve) => {
      requestStop = resolve;
      if (stopRequested) resolve();
    });
    const first = await Promise.race([exited.then((e) => ({ exit: e })), stopped.then(() => null)]);
    if (first) {
      const e = first.exit;
      if (e.code === 0) {
        report({ state: "stopped" });
        return 0;
      }
      const reason = `qemu exited with ${describeExit(e)}${stderrTail.trim() ? `: ${stderrTail.trim()}` : ""}`;
      report({ state: "failed", detail: reason });
      logger.error({ vm: spec.name }, reason);
      return exitStatus(e);
    }

    report({ state: "stopping" });
    const waitExit = (ms: number): Promise<Exit | null> =>
      Promise.race([exited, sleep(ms, null, { ref: false })]);
    if (spec.shutdown === "powerdown") {
      await ctl.execute("system_powerdown", undefined, { timeoutMs: QUIT_TIMEOUT_MS }).catch(() => undefined);
      await waitExit(spec.powerdownGraceMs ?? 10_000);
    }
    if (child.exitCode === null && child.signalCode === null)
      await ctl.execute("quit", undefined, { timeoutMs: QUIT_TIMEOUT_MS }).catch(() => undefined);
    let e = await waitExit(QUIT_TIMEOUT_MS);
    if (!e) {
      child.kill("SIGTERM");
      e = await waitExit(TERM_TIMEOUT_MS);
    }
    if (!e) {
      child.kill("SIGKILL");
      e = await exited;
    }
    report({ state: "stopped" });
    return e.code === 0 || e.signal === "SIGTERM" ? 0 : exitStatus(e);
  } catch (err) {
    report({ state: "failed", detail: (err as Error).message });
    throw err;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    spec.signal?.removeEventListener("abort", onSignal);
    control?.close();
    await proxy?.close();
    if (qemu && qemu.exitCode === null && qemu.signalCode === null) {
      qemu.kill("SIGKILL");
      await new Promise((r) => qemu?.once("exit", r));
    }
    for (const h of helpers) h.kill("SIGTERM");
    await rm(spec.stateDir, { recursive: true, force: true });
  }
}

/** QEMU's descriptor for the checkpointed state: the first one after stdin, stdout and stderr. */
const INCOMING_FD = 3;

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

/**
 * QEMU and virtiofsd must not outlive their hypervisor, even one killed with SIGKILL (its cleanup never
 * runs): setpriv sets the parent-death signal and execs them, so the kernel kills them with it.
 */
function dieWithHypervisor(argv: string[]): string[] {
  return ["--pdeathsig", "KILL", "--", ...argv];
}
