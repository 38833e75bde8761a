import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PcoccError } from "../util/index.js";
import { defaultVmStateDir } from "./job-state.js";

/** File names inside a VM's state directory (pcocc's names where pcocc had one). */
export interface VmStatePaths {
  dir: string;
  overlay: string;
  seed: string;
  metaData: string;
  userData: string;
  controlQmpSocket: string;
  qmpSocket: string;
  serialSocket: string;
  consoleSocket: string;
  consoleLog: string;
  /** The guest agent, for any number of host clients (the hypervisor's AgentMux). */
  agentSocket: string;
  /** QEMU's side of the agent's port (agentPortArgs): the hypervisor's AgentMux is its one client. */
  agentQemuSocket: string;
  info: string;
  /** Where `pcocc save` tells the hypervisor about its block job (see save-guard.ts). */
  saveGuardSocket: string;
  /** SPICE server (`remote-display: spice`). */
  spiceSocket: string;
}

export function vmStatePaths(dir: string): VmStatePaths {
  return {
    dir,
    overlay: join(dir, "image_snapshot"),
    seed: join(dir, "cloud_seed"),
    metaData: join(dir, "meta-data"),
    userData: join(dir, "user-data"),
    controlQmpSocket: join(dir, "hypervisor_qmp_socket"),
    qmpSocket: join(dir, "monitor_socket"),
    serialSocket: join(dir, "qemu_console_socket"),
    consoleSocket: join(dir, "pcocc_console_socket"),
    consoleLog: join(dir, "console.log"),
    agentSocket: join(dir, "pcocc_agent_socket"),
    agentQemuSocket: join(dir, "qemu_agent_socket"),
    info: join(dir, "vm.json"),
    saveGuardSocket: join(dir, "save_guard_socket"),
    spiceSocket: join(dir, "spice_socket"),
  };
}

/** What the hypervisor records about its VM for the other verbs (`vm.json`). */
export interface VmInfo {
  name: string;
  rank: number;
  pid: number;
  qemuPid?: number;
  imageUri?: string;
  imagePath?: string;
  accel: string;
  /** What a restart from a checkpoint must give the VM again. */
  memoryMiB: number;
  vcpus: number;
  /** Resumed from a checkpoint: its disk sits on the checkpoint's layer, not directly on the image. */
  restored?: boolean;
  /** Persistent drives in `save -i` order after the boot disk: QEMU node, real path, backup image URI. */
  persistentDrives?: Array<{ node: string; path: string; backup: string | null }>;
  /** Host CPUs of each vCPU and of QEMU's other threads, or why the vCPUs float over the task's CPUs. */
  cpuBinding?: { vcpus: number[][]; emulator?: number[] } | { reason: string };
  /** `remote-display` the VM has (none: `pcocc display` refuses it). */
  remoteDisplay?: "spice";
}

/** A VM the CLI can talk to. */
export interface VmEndpoint {
  name: string;
  paths: VmStatePaths;
  info: VmInfo;
}

/** Parses `vmN` (pcocc's VM names); throws pcocc's "invalid vm name" otherwise. */
export function parseVmName(name: string): number {
  const m = /^vm(\d+)$/.exec(name);
  if (!m) throw new PcoccError(`invalid vm name ${name}`);
  return Number(m[1]);
}

/**
 * Finds a VM on this node, from its state directory or from a job id and VM name. Job targeting across
 * nodes replaces this step; everything after it only needs the endpoint.
 */
export async function locateLocalVm(target: {
  stateDir?: string;
  jobId?: string;
  vm?: string;
}): Promise<VmEndpoint> {
  const vm = target.vm ?? "vm0";
  const rank = parseVmName(vm);
  let dir = target.stateDir;
  if (!dir) {
    const jobId = target.jobId ?? process.env.SLURM_JOB_ID ?? process.env.PCOCC_JOB_ID;
    if (!jobId) throw new PcoccError("no VM to talk to: give --state-dir DIR or -j JOBID");
    dir = defaultVmStateDir(jobId, rank);
  }
  const paths = vmStatePaths(dir);
  let info: VmInfo;
  try {
    info = JSON.parse(await readFile(paths.info, "utf8")) as VmInfo;
  } catch {
    throw new PcoccError(`${vm} is not running (no hypervisor state in ${dir})`);
  }
  return { name: info.name ?? vm, paths, info };
}

/** A set of VMs in pcocc's nodeset syntax: `vm0`, `vm[0-3,5]`, `vm1,vm[4-5]`. */
export function parseVmSet(spec: string): number[] {
  const ranks = new Set<number>();
  for (const part of spec.match(/[^,[]+(\[[^\]]*\])?/g) ?? []) {
    const m = /^vm(?:(\d+)|\[([\d,-]+)\])$/.exec(part);
    if (!m) throw new PcoccError(`invalid vm name ${part}`);
    if (m[1] !== undefined) {
      ranks.add(Number(m[1]));
      continue;
    }
    for (const r of (m[2] as string).split(",")) {
      const [a, b] = r.split("-").map(Number) as [number, number | undefined];
      const end = b ?? a;
      if (!Number.isInteger(a) || !Number.isInteger(end) || end < a || end - a > 100_000)
        throw new PcoccError(`invalid vm range ${r} in ${spec}`);
      for (let i = a; i <= end; i++) ranks.add(i);
    }
  }
  if (ranks.size === 0) throw new PcoccError(`invalid vm name ${spec}`);
  return [...ranks].sort((x, y) => x - y);
}
