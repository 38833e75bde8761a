import { PcoccError } from "../util/index.js";
import type { DiskCache, DiskModel, QemuPlan } from "./qemu-argv.js";

/** One disk QEMU attaches read-write: the boot overlay or a persistent drive. */
export interface BlockDrive {
  /** QEMU node name (what `pcocc save` copies from). */
  node: string;
  path: string;
  /** Image format as qemu-img reports it (`qcow2`, `raw`, ...). */
  format: string;
  model: DiskModel;
  cache: DiskCache;
  boot?: boolean;
  /** `mmp: cluster`: other VMs may write it at the same time (no image lock, share-rw on the device). */
  shared?: boolean;
}

/** QEMU's option syntax doubles commas inside values. */
export function optValue(v: string): string {
  return v.replace(/,/g, ",,");
}

function onOff(b: boolean): string {
  return b ? "on" : "off";
}

const CACHE_MODES: Record<DiskCache, { direct: boolean; noFlush: boolean; writeCache: boolean }> = {
  writeback: { direct: false, noFlush: false, writeCache: true },
  none: { direct: true, noFlush: false, writeCache: true },
  unsafe: { direct: false, noFlush: true, writeCache: true },
  writethrough: { direct: false, noFlush: false, writeCache: false },
  directsync: { direct: true, noFlush: false, writeCache: false },
};

const FORMAT = /^[a-z0-9]+$/;

/** Controllers already on the command line and the next unit number on each. */
interface Buses {
  scsi: number;
  ide: number;
}

function driveArgs(d: BlockDrive, buses: Buses): string[] {
  const mode = CACHE_MODES[d.cache];
  if (!mode) throw new PcoccError(`Unknown disk cache mode: ${d.cache}`);
  if (!FORMAT.test(d.format)) throw new PcoccError(`unsupported image format ${d.format} of ${d.path}`);
  const cache = `cache.direct=${onOff(mode.direct)},cache.no-flush=${onOff(mode.noFlush)}`;
  const lock = d.shared ? ",locking=off" : "";
  const args = [
    "-blockdev",
    `driver=file,node-name=${d.node}-file,filename=${optValue(d.path)},${cache},discard=unmap${lock}`,
    "-blockdev",
    `driver=${d.format},node-name=${d.node},file=${d.node}-file,${cache},discard=unmap`,
  ];
  const opts = `drive=${d.node}${d.boot ? ",bootindex=1" : ""}${d.shared ? ",share-rw=on" : ""}`;
  const wc = `write-cache=${onOff(mode.writeCache)}`;
  switch (d.model) {
    case "virtio":
      return [...args, "-device", `virtio-blk-pci,id=vblk-${d.node},${opts},${wc}`];
    case "virtio-scsi": {
      const ctl = buses.scsi === 0 ? ["-device", "virtio-scsi-pci,id=scsi0"] : [];
      const id = buses.scsi++;
      return [
        ...args,
        ...ctl,
        "-device",
        `scsi-hd,id=scsi-hd-${d.node},bus=scsi0.0,scsi-id=${id},${opts},${wc}`,
      ];
    }
    case "ide": {
      const ctl = buses.ide === 0 ? ["-device", "ich9-ahci,id=ahci"] : [];
      const port = buses.ide++;
      if (port > 5) throw new PcoccError(`too many ide drives (${d.path}): the controller has 6 ports`);
      return [...args, ...ctl, "-device", `ide-hd,id=ide-${d.node},bus=ahci.${port},${opts},${wc}`];
    }
    default:
      throw new PcoccError(`Unknown block device model: ${String(d.model)}`);
  }
}

function seedArgs(seedPath: string): string[] {
  return [
    "-blockdev",
    `driver=file,node-name=seed-file,filename=${optValue(seedPath)},read-only=on`,
    "-blockdev",
    "driver=raw,node-name=seed,file=seed-file,read-only=on",
    "-device",
    "virtio-blk-pci,id=vblk-seed,drive=seed",
  ];
}

/**
 * Boot disk, seed, then persistent drives: in that order, so a guest finds its boot disk and seed where it
 * did before persistent drives existed (virtio disks are named in PCI order) and the drives after them.
 */
export function blockDeviceArgs(plan: Pick<QemuPlan, "disk" | "seedPath" | "persistentDrives">): string[] {
  const buses: Buses = { scsi: 0, ide: 0 };
  const boot: BlockDrive[] = plan.disk ? [{ node: "drive0", format: "qcow2", boot: true, ...plan.disk }] : [];
  return [
    ...boot.flatMap((d) => driveArgs(d, buses)),
    ...(plan.seedPath ? seedArgs(plan.seedPath) : []),
    ...(plan.persistentDrives ?? []).flatMap((d) => driveArgs(d, buses)),
  ];
}
