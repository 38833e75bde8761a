import { open } from "node:fs/promises";
import { hostname } from "node:os";
import { parseClusterDefinition } from "../cluster/index.js";
import { loadConfig, resolveTemplate, type PcoccConfig, type ResolvedSettings } from "../config/index.js";
import { resolveImage } from "../image/index.js";
import { envValue, parseUint32, tasksPerNodeFromEnv } from "../job/index.js";
import {
  claimDrives,
  joinJob,
  openKeystore,
  PhaseClock,
  putVmState,
  type JobHandle,
  type VmStateName,
} from "../keystore/index.js";
import { decodeTaskEnv } from "../job/index.js";
import { hypervisorLogger, PcoccError } from "../util/index.js";
import {
  defaultVmStateDir,
  nodeCoreCount,
  runHypervisor,
  vmStatePaths,
  type VmSpec,
  type HypervisorStateChange,
} from "../vm/index.js";
import { parseMountSpec } from "./batch-args.js";
import { scontrolShowJob } from "./commands.js";
import { restoreFor } from "./restart.js";
import { memoryFromEnv, parseScontrolMemory, vmMemoryMiB, type JobMemory } from "./memory.js";
import { buildRankMap } from "./tasks.js";
import { gatherClusterFacts } from "./vm-facts.js";
import { readVmNics } from "./vm-network.js";

/** What one hypervisor task learns from SLURM's environment and the launcher's hand-over. */
function taskFromEnv(env: NodeJS.ProcessEnv) {
  const need = (name: string): number => {
    const v = envValue(env, name, 16);
    if (v === undefined) {
      throw new PcoccError(`pcocc internal run is started by the launcher inside a job: ${name} is not set`);
    }
    return parseUint32(name, v);
  };
  const handover = decodeTaskEnv(env);
  const nodeRank = need("SLURM_NODEID");
  const tasksPerNode = tasksPerNodeFromEnv(env) ?? [1];
  return {
    jobId: String(need("SLURM_JOB_ID")),
    rank: need("SLURM_PROCID"),
    nodeRank,
    tasksOnNode: tasksPerNode[nodeRank] ?? 1,
    rankMap: buildRankMap(tasksPerNode),
    cpusPerTask: Number(env.SLURM_CPUS_PER_TASK ?? "1") || 1,
    ...handover,
    mounts: handover.mounts.map(parseMountSpec),
  };
}

async function jobMemory(jobId: string, env: NodeJS.ProcessEnv): Promise<JobMemory> {
  const mem = memoryFromEnv(env) ?? parseScontrolMemory(await scontrolShowJob(jobId));
  if (!mem)
    throw new PcoccError(`Failed to read memory per core of job ${jobId} (no MinMemoryCPU/MinMemoryNode)`);
  return mem;
}

/**
 * Publishes VM states for the launcher and `pcocc console`, with the time each state began and, while the
 * VM is starting, the last line of its console (the progress line names it when a boot drags on).
 */
class VmStatePublisher {
  private chain: Promise<void> = Promise.resolve();
  private current?: { state: VmStateName; desc?: string; since: number };
  private tail?: string;
  private timer?: NodeJS.Timeout;
  /** A write is queued that has not read `current` yet. */
  private queued = false;
  /** Start-up phases, published with the states (a first console byte after `running` on its own). */
  readonly clock = new PhaseClock();

  constructor(
    /** Still connecting while the VM is prepared: states wait for it, in order. */
    private readonly job: Promise<JobHandle>,
    private readonly rank: number,
    private readonly hostname: string,
    private readonly consoleLog: string,
  ) {}

  onChange(change: HypervisorStateChange): void {
    const state: VmStateName =
      change.state === "stopping" || change.state === "stopped" ? "failed" : (change.state as VmStateName);
    const desc =
      change.state === "stopped" ? "stopped" : change.state === "stopping" ? "stopping" : change.detail;
    this.current = { state, desc: state === "failed" ? (desc ?? "failed") : undefined, since: Date.now() };
    if (state === "running") this.clock.mark("running");
    this.publish();
    // a console tail is a nicety: a failed read (log rotated away, EIO) waits for the next tick
    const poll = () => this.pollConsole().catch(() => undefined);
    if (state === "qemu-start" && !this.timer) this.timer = setInterval(() => void poll(), 2000);
    if (state !== "qemu-start") this.stopPolling();
  }

  onPhase(phase: string): void {
    this.clock.mark(phase);
    if (phase === "console" && this.current?.state === "running") this.publish();
  }

  /**
   * Writes the latest state after the writes before it. States that came while a write was queued are
   * folded into it (a slow keystore sees one write for topology, disk and qemu-start, not three).
   */
  private publish(): void {
    if (!this.current || this.queued) return;
    this.queued = true;
    this.chain = this.chain
      .then(async () => {
        const job = await this.job;
        this.queued = false;
        const c = this.current!;
        const opts = {
          desc: c.desc,
          hostname: this.hostname,
          since: c.since,
          consoleTail: this.tail,
          phases: { ...this.clock.phases },
        };
        await putVmState(job, this.rank, c.state, opts);
      })
      .catch(() => {
        this.queued = false;
        // the launcher sees the VM through later states or the step's end; a lost update is not fatal
      });
  }

  private async pollConsole(): Promise<void> {
    const tail = await lastLine(this.consoleLog);
    if (tail && tail !== this.tail) {
      this.tail = tail;
      this.publish();
    }
  }

  stopPolling(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  flush(): Promise<void> {
    this.stopPolling();
    return this.chain;
  }
}

async function lastLine(file: string): Promise<string | undefined> {
  const fh = await open(file, "r").catch(() => undefined);
  if (!fh) return undefined;
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, 4096);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const lines = buf
      .toString("utf8")
      .split(/\r?\n/)
      .map((l) => l.trim());
    return lines.filter((l) => l !== "").pop();
  } finally {
    await fh.close();
  }
}

/** The task's cores (`full-node`: the node's) less the ones `emulator-cores` sets aside for QEMU. */
async function vcpuCount(template: string, s: ResolvedSettings, cpusPerTask: number): Promise<number> {
  const cores = s["full-node"] ? await nodeCoreCount() : cpusPerTask;
  const vcpus = cores - s["emulator-cores"];
  if (vcpus < 1)
    throw new PcoccError(
      `template '${template}': emulator-cores ${s["emulator-cores"]} leaves no core for vCPUs (the task has ${cores})`,
    );
  return vcpus;
}

/** The VM this task runs, from the definition, the template, the network setup and the job's resources. */
async function buildVmSpec(
  config: PcoccConfig,
  job: Promise<JobHandle>,
  task: ReturnType<typeof taskFromEnv>,
  env: NodeJS.ProcessEnv,
): Promise<VmSpec> {
  const cluster = parseClusterDefinition(task.definition, config);
  const vm = cluster.vms[task.rank];
  if (!vm) throw new PcoccError(`task ${task.rank} has no VM in cluster definition '${task.definition}'`);
  const tpl = resolveTemplate(config, vm.template);
  const networks = config.resourceSets[vm.resourceSet]?.networks ?? [];
  const imageUri = Object.hasOwn(task.imageOverrides, vm.template)
    ? task.imageOverrides[vm.template]
    : (tpl.settings.image ?? undefined);
  const nicsReady = job.then((j) => readVmNics(j, networks, task.nodeRank, task.rank));
  // awaited by the hypervisor before QEMU starts; a failure before that must not go unhandled
  nicsReady.catch(() => undefined);
  const [image, mem, facts] = await Promise.all([
    imageUri ? resolveImage(config, imageUri) : undefined,
    jobMemory(task.jobId, env),
    job.then((j) => gatherClusterFacts(config, j, cluster, task.rankMap, task.rank)),
  ]);
  const s = tpl.settings;
  const vcpus = await vcpuCount(vm.template, s, task.cpusPerTask);
  const memoryMiB = vmMemoryMiB(mem, task.cpusPerTask, task.tasksOnNode);
  const restore = task.restartDir
    ? await restoreFor(task.restartDir, task.rank, { vcpus, memoryMiB })
    : undefined;
  return {
    rank: task.rank,
    name: vm.name,
    // the short name: guests resolve the others through the network's DNS domain
    hostname: vm.name,
    template: {
      "qemu-bin": s["qemu-bin"],
      "machine-type": s["machine-type"],
      "cpu-model": s["cpu-model"] ?? undefined,
      "nic-model": s["nic-model"],
      "disk-model": s["disk-model"],
      "disk-cache": s["disk-cache"],
      "custom-args": s["custom-args"],
      "user-data": s["user-data"] ?? undefined,
      "instance-id": s["instance-id"] ?? undefined,
      "mount-points": s["mount-points"],
      kernel: s.kernel ?? undefined,
      initrd: s.initrd ?? undefined,
      "kernel-args": s["kernel-args"],
      accelerator: s.accelerator,
      "persistent-drives": s["persistent-drives"],
      "bind-vcpus": s["bind-vcpus"],
      "emulator-cores": s["emulator-cores"],
      "full-node": s["full-node"],
      "remote-display": s["remote-display"],
    },
    imagePath: image?.topPath,
    imageUri,
    nics: [],
    nicsReady,
    facts,
    vcpus,
    memoryMiB,
    restore,
    userDataFile: task.userData,
    mounts: task.mounts,
    stateDir: defaultVmStateDir(task.jobId, task.rank),
  };
}

/**
 * `pcocc internal run` inside the job step: one task = one VM (rank = SLURM_PROCID). Gathers the VM's spec
 * from SLURM, the configuration and the keystore, runs the hypervisor and publishes its states. Resolves with
 * the hypervisor's exit status.
 */
export async function runVmTask(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const task = taskFromEnv(env);
  const config = await loadConfig();
  // the keystore connects and the NICs are read while the VM's disk and seed are made
  const opened = openKeystore({ config, as: "user" });
  const joined = opened.then((ks) => joinJob(ks, { jobId: Number(task.jobId) }));
  const vmName = `vm${task.rank}`;
  const stateDir = defaultVmStateDir(task.jobId, task.rank);
  const publisher = new VmStatePublisher(joined, task.rank, vmName, vmStatePaths(stateDir).consoleLog);
  joined.then(
    () => publisher.onPhase("keystore"),
    () => undefined,
  );
  try {
    // one line per state in the node's log for admins (/var/log/pcocc), besides the keystore
    const nodeLog = await hypervisorLogger(Number(task.jobId), { vm: vmName });
    const onState = (c: HypervisorStateChange): void => {
      publisher.onChange(c);
      nodeLog?.[c.state === "failed" ? "error" : "info"](c, `${vmName} ${c.state}`);
    };
    let spec: VmSpec;
    try {
      spec = await buildVmSpec(config, joined, task, env);
    } catch (err) {
      onState({ state: "failed", detail: (err as Error).message });
      throw err;
    }
    publisher.onPhase("spec");
    spec.nicsReady?.then(
      () => publisher.onPhase("nics"),
      () => undefined,
    );
    const vm = spec.name;
    const holder = joined.then((j) => ({ jobId: Number(task.jobId), vm, host: hostname(), user: j.user }));
    return await runHypervisor({
      ...spec,
      onState,
      onPhase: (n) => publisher.onPhase(n),
      driveLocker: async (drives) => claimDrives(await opened, await holder, drives),
    });
  } finally {
    await publisher.flush();
    await (await opened.catch(() => undefined))?.close();
  }
}
