import { join } from "node:path";
import type { AcceleratorChoice } from "./accel.js";
import type { VmStatePaths } from "./paths.js";
import { DEFAULT_KERNEL_ARGS } from "../config/index.js";
import type { MountSpec, QemuPlan } from "./qemu-argv.js";
import type { VmSpec } from "./spec.js";

/** QEMU's descriptor for the checkpointed state: the first one after stdin, stdout and stderr. */
export const INCOMING_FD = 3;

/** What the hypervisor found out on this node before it can say how QEMU runs. */
export interface HostFacts {
  accel: AcceleratorChoice;
  /** The layer the VM's overlay sits on (image or checkpointed disk); none = no boot disk. */
  diskBase?: string;
  paths: VmStatePaths;
  /** The VM's mounts, virtio-fs ones with the socket of their virtiofsd. */
  mounts: QemuPlan["mounts"];
  /** `/dev/vhost-net` usable by this user. */
  vhostNet: boolean;
  /** Persistent drives, resolved and claimed. */
  persistentDrives?: QemuPlan["persistentDrives"];
}

/** Where each virtio-fs mount's virtiofsd listens: inside the VM's state directory. */
export function virtiofsSockets(mounts: MountSpec[], stateDir: string): QemuPlan["mounts"] {
  return mounts.map((m, i) =>
    m.type === "virtio-fs" ? { ...m, virtiofsSocket: join(stateDir, `virtio_fsd_${i}`) } : m,
  );
}

/** How QEMU runs for `spec` on this host: the template's settings with pcocc's defaults filled in. */
export function planQemu(spec: VmSpec, facts: HostFacts): QemuPlan {
  const tpl = spec.template;
  const { paths } = facts;
  return {
    binary: tpl["qemu-bin"] ?? "qemu-system-x86_64",
    name: spec.name,
    accel: facts.accel,
    machine: tpl["machine-type"] ?? "pc",
    cpuModel: tpl["cpu-model"] ?? undefined,
    memoryMiB: spec.memoryMiB,
    vcpus: spec.vcpus,
    disk: facts.diskBase
      ? { path: paths.overlay, model: tpl["disk-model"] ?? "virtio", cache: tpl["disk-cache"] ?? "unsafe" }
      : undefined,
    persistentDrives: facts.persistentDrives,
    seedPath: paths.seed,
    kernel: tpl.kernel
      ? { path: tpl.kernel, initrd: tpl.initrd ?? undefined, args: tpl["kernel-args"] ?? DEFAULT_KERNEL_ARGS }
      : undefined,
    nics: spec.nics.map((n) => ({ ...n, model: n.model ?? tpl["nic-model"] ?? undefined })),
    userNet: spec.userNet,
    vhostNet: spec.nics.length > 0 && facts.vhostNet,
    mounts: facts.mounts,
    controlQmpSocket: paths.controlQmpSocket,
    qmpSocket: paths.qmpSocket,
    serialSocket: paths.serialSocket,
    agentSocket: paths.agentQemuSocket,
    spiceSocket: tpl["remote-display"] === "spice" ? paths.spiceSocket : undefined,
    customArgs: tpl["custom-args"] ?? [],
    incomingFd: spec.restore ? INCOMING_FD : undefined,
  };
}
