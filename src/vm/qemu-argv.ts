import { AGENT_PORT_NAME } from "../agent/index.js";
import { PcoccError } from "../util/index.js";
import type { AcceleratorChoice } from "./accel.js";
import { blockDeviceArgs, optValue, type BlockDrive } from "./qemu-drives.js";

export type DiskModel = "virtio" | "virtio-scsi" | "ide";
export type DiskCache = "writeback" | "none" | "unsafe" | "writethrough" | "directsync";

export interface NicSpec {
  tap: string;
  mac: string;
  /** QEMU device model; pcocc's default `virtio-net`. */
  model?: string;
  /**
   * Keep guest checksum offload. Off by default: OVS's userspace datapath reads taps with AF_PACKET and
   * never completes CHECKSUM_PARTIAL packets, which silently breaks guest TCP.
   */
  csumOffload?: boolean;
}

export interface MountSpec {
  tag: string;
  path: string;
  readonly?: boolean;
  type?: "virtio-9p" | "virtio-fs";
}

export interface QemuPlan {
  binary: string;
  name: string;
  accel: AcceleratorChoice;
  machine: string;
  cpuModel?: string;
  memoryMiB: number;
  vcpus: number;
  /** Boot disk: the VM's ephemeral overlay. */
  disk?: { path: string; model: DiskModel; cache: DiskCache };
  /** Persistent drives (pcocc's `persistent-drives`), attached after the seed. */
  persistentDrives?: BlockDrive[];
  /** NoCloud seed image (ISO 9660), attached read-only as a second virtio disk. */
  seedPath?: string;
  kernel?: { path: string; initrd?: string; args: string };
  nics: NicSpec[];
  /** QEMU user-mode networking (tests only: the real network comes as taps). */
  userNet?: { hostfwd?: string[] };
  /** `/dev/vhost-net` usable by this user. */
  vhostNet?: boolean;
  mounts: Array<MountSpec & { virtiofsSocket?: string }>;
  /** Private monitor of the hypervisor process. */
  controlQmpSocket: string;
  /** Monitor for `pcocc save/reset/dump/monitor-cmd`. */
  qmpSocket: string;
  serialSocket: string;
  /** Unix socket of the guest agent's virtio-serial port (QEMU listens; the host side connects). */
  agentSocket?: string;
  /** `remote-display: spice`: the unix socket the SPICE server listens on (see spiceArgs). */
  spiceSocket?: string;
  customArgs: string[];
  /** Restore from a checkpoint: QEMU reads the VM's state from this inherited file descriptor. */
  incomingFd?: number;
}

/** The whole QEMU command line for one VM; pure so it can be checked without starting anything. */
export function buildQemuArgv(plan: QemuPlan): string[] {
  return [
    ...machineArgs(plan),
    ...blockDeviceArgs(plan),
    ...bootArgs(plan),
    ...plan.nics.flatMap((nic, i) => nicArgs(nic, i, plan.vhostNet ?? false)),
    ...userNetArgs(plan),
    ...plan.mounts.flatMap(mountArgs),
    ...monitorArgs(plan),
    ...(plan.agentSocket ? agentPortArgs(plan.agentSocket) : []),
    ...(plan.spiceSocket ? spiceArgs(plan.spiceSocket) : []),
    ...(plan.incomingFd !== undefined ? ["-incoming", `fd:${plan.incomingFd}`] : []),
    ...plan.customArgs,
  ];
}

function machineArgs(plan: QemuPlan): string[] {
  const argv: string[] = [plan.binary, "-name", `${optValue(plan.name)},debug-threads=on`];
  argv.push("-machine", `type=${optValue(plan.machine)}`);
  if (plan.accel === "kvm") argv.push("-accel", "kvm", "-cpu", plan.cpuModel ?? "host");
  else {
    argv.push("-accel", "tcg,tb-size=64");
    if (plan.cpuModel) argv.push("-cpu", plan.cpuModel);
  }
  argv.push("-S", "-nodefaults", "-no-user-config", "-display", "none", "-rtc", "base=utc");
  argv.push("-m", `${plan.memoryMiB}M`, "-smp", `${plan.vcpus},sockets=${plan.vcpus},cores=1,threads=1`);
  // virtiofsd maps the guest's memory: it must be a shared file
  if (plan.mounts.some((m) => m.type === "virtio-fs"))
    argv.push(
      "-object",
      `memory-backend-file,id=mem,size=${plan.memoryMiB}M,mem-path=/dev/shm,share=on`,
      "-numa",
      "node,memdev=mem",
    );
  return argv;
}

/** A direct kernel boot, or disk then cdrom; custom args naming -append/-boot win. */
function bootArgs(plan: QemuPlan): string[] {
  const custom = plan.customArgs;
  if (!plan.kernel) return custom.includes("-boot") ? [] : ["-boot", "order=cd"];
  const argv = ["-kernel", plan.kernel.path];
  if (plan.kernel.initrd) argv.push("-initrd", plan.kernel.initrd);
  if (!custom.includes("-append")) argv.push("-append", plan.kernel.args);
  return argv;
}

function nicArgs(nic: NicSpec, i: number, vhostNet: boolean): string[] {
  const model = nic.model ?? "virtio-net";
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(nic.tap)) throw new PcoccError(`invalid tap name ${nic.tap}`);
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(nic.mac))
    throw new PcoccError(`invalid MAC address ${nic.mac}`);
  const vhost = vhostNet ? ",vhost=on" : "";
  const csum = model.startsWith("virtio") && !nic.csumOffload ? ",csum=off" : "";
  return [
    "-netdev",
    `tap,id=net${i},ifname=${nic.tap},script=no,downscript=no${vhost}`,
    "-device",
    `${optValue(model)},id=nic${i},netdev=net${i},mac=${nic.mac}${csum}`,
  ];
}

function userNetArgs(plan: QemuPlan): string[] {
  if (!plan.userNet) return [];
  const fwd = (plan.userNet.hostfwd ?? []).map((f) => `,hostfwd=${optValue(f)}`).join("");
  return ["-netdev", `user,id=usernet${fwd}`, "-device", "virtio-net-pci,id=usernic,netdev=usernet"];
}

function mountArgs(m: QemuPlan["mounts"][number], i: number): string[] {
  if (!/^[A-Za-z0-9_-]+$/.test(m.tag)) throw new PcoccError(`invalid mount tag ${m.tag}`);
  if (m.type !== "virtio-fs") {
    const ro = m.readonly ? ",readonly=on" : "";
    return [
      "-fsdev",
      `local,id=fs${i},path=${optValue(m.path)},security_model=none${ro}`,
      "-device",
      `virtio-9p-pci,fsdev=fs${i},mount_tag=${m.tag}`,
    ];
  }
  if (m.readonly) throw new PcoccError("Read-only mounts are not supported with virtio-fs");
  if (!m.virtiofsSocket) throw new PcoccError(`virtio-fs mount ${m.tag} has no virtiofsd socket`);
  return [
    "-chardev",
    `socket,id=char_fs_${i},path=${optValue(m.virtiofsSocket)}`,
    "-device",
    `vhost-user-fs-pci,queue-size=1024,chardev=char_fs_${i},tag=${m.tag}`,
  ];
}

function monitorArgs(plan: QemuPlan): string[] {
  return [
    "-qmp",
    `unix:${optValue(plan.controlQmpSocket)},server=on,wait=off`,
    "-qmp",
    `unix:${optValue(plan.qmpSocket)},server=on,wait=off`,
    "-chardev",
    `socket,id=serial0,path=${optValue(plan.serialSocket)},server=on,wait=off`,
    "-serial",
    "chardev:serial0",
    "-object",
    "rng-random,filename=/dev/urandom,id=rng0",
    "-device",
    "virtio-rng-pci,rng=rng0",
  ];
}

/**
 * The guest agent's virtio-serial port, backed by a unix socket QEMU listens on (wait=off so QEMU starts
 * without a client). It takes one connection at a time: the hypervisor's AgentMux, which serves the host
 * clients. The socket lives in the VM's state directory, which only the job's user can enter: that is what
 * keeps other users from the agent.
 */
export function agentPortArgs(socketPath: string, id = "pcocc-agent0"): string[] {
  return [
    "-chardev",
    `socket,id=${id},path=${optValue(socketPath)},server=on,wait=off`,
    "-device",
    `virtio-serial-pci,id=${id}-bus`,
    "-device",
    `virtserialport,bus=${id}-bus.0,chardev=${id},name=${AGENT_PORT_NAME}`,
  ];
}

/**
 * SPICE on a unix socket in the VM's state directory, not on a TCP port: only the job's user can enter that
 * directory, so no ticket is needed to keep other users out (pcocc used a TCP port with a SASL password any
 * local process could try). A QXL card to display, and the vdagent channel for the guest's agent.
 */
export function spiceArgs(socketPath: string): string[] {
  return [
    "-spice",
    `unix=on,addr=${optValue(socketPath)},disable-ticketing=on`,
    "-device",
    "qxl-vga,id=video0",
    "-device",
    "virtio-serial-pci,id=spice-serial",
    "-chardev",
    "spicevmc,id=spicechannel0,name=vdagent",
    "-device",
    "virtserialport,bus=spice-serial.0,chardev=spicechannel0,name=com.redhat.spice.0",
  ];
}
