import { createHash } from "node:crypto";

/** Bumped when the build code changes in a way the recipe data below does not show. */
export const BUILD_VERSION = 1;

export const KERNEL_META_PACKAGE = "linux-image-amd64";

export const DEBIAN_SUITE = "bookworm";

/**
 * debootstrap --include list (python3-cffi-backend avoids a virtual-package failure, kmod
 * keeps module autoload working, dbus satisfies systemd-resolved).
 */
export const CLOUD_PACKAGES = [
  "systemd-sysv",
  "udev",
  "kmod",
  "dbus",
  "cloud-init",
  "python3-cffi-backend",
  "openssh-server",
  "iproute2",
  "iputils-ping",
  "sudo",
  "netbase",
  "systemd-resolved",
];

/** Modules the initramfs loads: disks, NICs, the root fs and the seed's file systems. */
export const BOOT_MODULES = [
  "virtio_pci",
  "virtio_blk",
  "virtio_net",
  "virtio_rng",
  "virtio_console",
  "crc32c_generic",
  "ext4",
  "isofs",
  "vfat",
  "nls_cp437",
  "nls_utf8",
  "nls_iso8859_1",
];

/**
 * Module subtrees copied into the cloud root fs (9p for pcocc mounts, netfilter, overlay, ...). Only
 * virtual hardware drivers: every module udev can match at coldplug costs seconds to load under TCG.
 */
export const CLOUD_MODULE_DIRS = [
  "kernel/fs",
  "kernel/net",
  "kernel/lib",
  "kernel/crypto",
  "kernel/drivers/virtio",
  "kernel/drivers/block/virtio_blk.ko",
  "kernel/drivers/block/loop.ko",
  "kernel/drivers/block/nbd.ko",
  "kernel/drivers/char/hw_random/virtio-rng.ko",
  "kernel/drivers/char/virtio_console.ko",
  "kernel/drivers/cdrom",
  "kernel/drivers/net/virtio_net.ko",
  "kernel/drivers/net/net_failover.ko",
  "kernel/drivers/net/tun.ko",
  "kernel/drivers/net/veth.ko",
  "kernel/drivers/net/vxlan",
  "kernel/drivers/net/dummy.ko",
  "kernel/drivers/net/macvlan.ko",
];

/** Left out of those subtrees: radio stacks whose modules pull in firmware requests at boot. */
export const CLOUD_MODULE_EXCLUDE = [
  "kernel/net/wireless",
  "kernel/net/mac80211",
  "kernel/net/bluetooth",
  "kernel/net/nfc",
  "kernel/net/ieee802154",
  "kernel/net/mac802154",
];

/**
 * The recipes' guest (`lab-vslurm`): the cloud guest plus SLURM, munge and Open MPI, installed with apt in
 * a copy of the debootstrap tree. The daemons are left disabled: the recipe's user-data configures and
 * starts them once it knows the cluster.
 */
export const VSLURM_RECIPE = {
  packages: ["slurm-wlm", "munge", "openmpi-bin", "python3-mpi4py"],
  disable: ["slurmctld.service", "slurmd.service", "munge.service"],
};

/** Root fs size (sparse ext4; the qcow2 holds only the used blocks). */
export const CLOUD_ROOTFS_SIZE = "2G";

export function recipeHash(recipe: unknown): string {
  return createHash("sha256").update(JSON.stringify(recipe)).digest("hex").slice(0, 16);
}
