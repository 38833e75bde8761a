/**
 * /init of the cloud image's initramfs: Debian builds virtio, ext4 and isofs as modules, so they are
 * loaded here before the real root is mounted and systemd takes over. Accepts `root=LABEL=x` or
 * `root=/dev/x`; a root that never appears powers the VM off with a message instead of hanging.
 */
export const CLOUD_INITRAMFS_INIT = `#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
while read -r m; do insmod "/lib/modules/$m" || echo "pcocc-initramfs: cannot load $m"; done </etc/modules.order
root=LABEL=rootfs
for arg in $(cat /proc/cmdline); do
  case "$arg" in root=*) root="\${arg#root=}" ;; esac
done
dev=
tries=0
while [ -z "$dev" ]; do
  case "$root" in
    LABEL=*) dev=$(findfs "$root" 2>/dev/null) ;;
    *) [ -b "$root" ] && dev=$root ;;
  esac
  [ -n "$dev" ] && break
  tries=$((tries + 1))
  if [ $tries -gt 200 ]; then
    echo "pcocc-initramfs: root device $root not found"
    poweroff -f
  fi
  sleep 0.05
done
mkdir -p /newroot
if ! mount -t ext4 -o rw "$dev" /newroot; then
  echo "pcocc-initramfs: cannot mount $dev"
  poweroff -f
fi
mount --move /dev /newroot/dev
umount /proc /sys
# The one line a quiet boot shows before systemd (bench/boot times the kernel + initramfs by it).
echo "pcocc-initramfs: root $dev mounted, starting /sbin/init"
exec switch_root /newroot /sbin/init
`;
