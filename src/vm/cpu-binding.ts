import { readdir, readFile } from "node:fs/promises";
import { nativeAddon, PcoccError } from "../util/index.js";
import type { QmpClient } from "./qmp.js";

/** The `pcocc_cpu` addon (native/src/affinity.cc): sched_setaffinity of one thread. */
interface CpuAddon {
  setAffinity(tid: number, cpus: number[]): void;
}

const addon = nativeAddon<CpuAddon>("pcocc_cpu", "CPU", "run `npm run build:native`");

/** Which host CPUs run what: one core's CPUs per vCPU, and the emulator-cores' CPUs for QEMU's other threads. */
export interface CpuBinding {
  vcpus: number[][];
  emulator?: number[];
}

/**
 * pcocc's rule: vCPUs are pinned only when `bind-vcpus` is set and the task's cores are exactly the vCPUs
 * plus the emulator cores, so that each vCPU gets a core of its own. The first `emulatorCores` cores are
 * set aside for QEMU's other threads, the next ones go to vCPU 0, 1, ... Returns why not, otherwise.
 */
export function planCpuBinding(
  cores: number[][],
  opts: { vcpus: number; emulatorCores: number; bind: boolean },
): { binding: CpuBinding } | { reason: string } {
  if (!opts.bind) return { reason: "bind-vcpus is false" };
  const wanted = opts.vcpus + opts.emulatorCores;
  if (cores.length !== wanted)
    return {
      reason: `the task has ${cores.length} cores for ${opts.vcpus} vCPUs and ${opts.emulatorCores} emulator cores`,
    };
  const emulator = opts.emulatorCores > 0 ? cores.slice(0, opts.emulatorCores).flat() : undefined;
  return { binding: { vcpus: cores.slice(opts.emulatorCores), emulator } };
}

/** CPUs in a kernel list (`0-3,8,10-11`). */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(",").filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new PcoccError(`invalid CPU list ${list}`);
    for (let c = Number(m[1]); c <= Number(m[2] ?? m[1]); c++) out.push(c);
  }
  return out;
}

const SYS_CPU = "/sys/devices/system/cpu";

/** `cpus` grouped by the physical core they belong to (hyperthreads together), in CPU order. */
export async function coresOf(cpus: number[]): Promise<number[][]> {
  const byCore = new Map<string, number[]>();
  for (const cpu of [...cpus].sort((a, b) => a - b)) {
    const read = (f: string): Promise<string> =>
      readFile(`${SYS_CPU}/cpu${cpu}/topology/${f}`, "utf8").then(
        (s) => s.trim(),
        () => `cpu${cpu}`,
      );
    const key = `${await read("physical_package_id")}:${await read("core_id")}`;
    byCore.set(key, [...(byCore.get(key) ?? []), cpu]);
  }
  return [...byCore.values()];
}

/** The cores this process may run on: the SLURM task's cpuset (task/affinity or a cgroup cpuset). */
export async function taskCores(): Promise<number[][]> {
  const status = await readFile("/proc/self/status", "utf8");
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1];
  if (!list) throw new PcoccError("cannot read this task's CPUs from /proc/self/status");
  return coresOf(parseCpuList(list));
}

/** `full-node`: every online CPU of the node, as far as the cgroup allows (the kernel intersects). */
export async function widenToNode(): Promise<void> {
  addon().setAffinity(0, parseCpuList(await readFile(`${SYS_CPU}/online`, "utf8")));
}

/** How many cores the node has online (`full-node` VMs get them all). */
export async function nodeCoreCount(): Promise<number> {
  return (await coresOf(parseCpuList(await readFile(`${SYS_CPU}/online`, "utf8")))).length;
}

/**
 * Pins QEMU's threads (our own user's process: no privilege involved): each vCPU thread, as QMP names it,
 * on its core; with emulator cores, every other thread there (threads QEMU starts later inherit it from
 * the thread that starts them, the main loop's).
 */
export async function applyCpuBinding(qmp: QmpClient, qemuPid: number, binding: CpuBinding): Promise<void> {
  const cpus = await qmp.execute<Array<{ "cpu-index": number; "thread-id": number }>>("query-cpus-fast");
  const vcpuThreads = new Set(cpus.map((c) => c["thread-id"]));
  if (vcpuThreads.size !== binding.vcpus.length)
    throw new PcoccError(
      `unable to bind vcpus: QEMU runs ${cpus.length} vCPUs on ${vcpuThreads.size} threads`,
    );
  if (binding.emulator) {
    for (const t of await readdir(`/proc/${qemuPid}/task`)) {
      const tid = Number(t);
      if (!vcpuThreads.has(tid)) setThread(tid, binding.emulator);
    }
  }
  for (const c of cpus) setThread(c["thread-id"], binding.vcpus[c["cpu-index"]]!);
}

function setThread(tid: number, cpus: number[]): void {
  try {
    addon().setAffinity(tid, cpus);
  } catch (err) {
    // a thread that ended meanwhile is no longer ours to pin
    if ((err as { errno?: number }).errno === 3) return;
    throw new PcoccError(`unable to bind thread ${tid} to CPUs ${cpus.join(",")}: ${(err as Error).message}`);
  }
}
