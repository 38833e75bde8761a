import { PcoccError } from "../util/index.js";

/**
 * Share of a task's SLURM memory given to the guest; the rest covers QEMU itself (TCG translation cache,
 * device emulation, overlay caches). pcocc uses the same 15 % reserve.
 */
const VM_MEMORY_FRACTION = 0.85;

/** The job's memory request: per allocated CPU, or per node. Values in MiB. */
export type JobMemory = { perCpu: number } | { perNode: number };

const UNIT: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 };

/** `256M`, `1.5G`, `2048` (MiB, as SLURM's env vars give it) → MiB. */
export function parseMemorySize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(value.trim());
  if (!m) throw new PcoccError(`invalid memory size '${value}'`);
  return Math.floor(Number(m[1]) * UNIT[(m[2] || "M").toUpperCase()]!);
}

/** Reads `MinMemoryCPU=` / `MinMemoryNode=` from `scontrol show job` output. */
export function parseScontrolMemory(text: string): JobMemory | undefined {
  const cpu = /\bMinMemoryCPU=(\S+)/.exec(text);
  if (cpu) return { perCpu: parseMemorySize(cpu[1]!) };
  const node = /\bMinMemoryNode=(\S+)/.exec(text);
  if (node && node[1] !== "0") return { perNode: parseMemorySize(node[1]!) };
  return undefined;
}

/** `SLURM_MEM_PER_CPU` / `SLURM_MEM_PER_NODE` (set when the user asked for memory explicitly). */
export function memoryFromEnv(env: NodeJS.ProcessEnv): JobMemory | undefined {
  if (env.SLURM_MEM_PER_CPU) return { perCpu: parseMemorySize(env.SLURM_MEM_PER_CPU) };
  if (env.SLURM_MEM_PER_NODE && env.SLURM_MEM_PER_NODE !== "0") {
    return { perNode: parseMemorySize(env.SLURM_MEM_PER_NODE) };
  }
  return undefined;
}

/**
 * Guest RAM for one VM (one task of `cpusPerTask` CPUs; `tasksOnNode` tasks share a per-node request),
 * rounded down to an even number of MiB.
 */
export function vmMemoryMiB(mem: JobMemory, cpusPerTask: number, tasksOnNode: number): number {
  const taskMiB = "perCpu" in mem ? mem.perCpu * cpusPerTask : mem.perNode / Math.max(1, tasksOnNode);
  const vm = Math.floor((taskMiB * VM_MEMORY_FRACTION) / 2) * 2;
  if (vm < 16) {
    throw new PcoccError(
      `the job gives each VM ${Math.floor(taskMiB)} MiB, too little for a guest: ask for more memory (e.g. --mem-per-cpu)`,
    );
  }
  return vm;
}
