/**
 * Files laid over the debootstrapped Debian to make the `cloud` lab guest. They are part of the recipe:
 * changing any of them changes the cache key and rebuilds the image.
 */

export interface RootFile {
  content: string;
  mode?: number;
}

const READY_SCRIPT = `#!/bin/sh
# The line tests and the lab wait for: cloud-init has applied the seed and sshd is listening.
printf '\\npcocc-guest: ready hostname=%s\\n' "$(hostname)" >/dev/ttyS0
`;

const READY_UNIT = `[Unit]
Description=Announce on the serial console that the pcocc lab guest is configured
After=cloud-final.service ssh.service
Wants=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/pcocc-guest-ready

[Install]
# cloud-final runs after multi-user.target, so hooking there would form an ordering cycle.
WantedBy=cloud-init.target
`;

const CLOUD_CFG = `# pcocc lab guest: NoCloud only, and only the modules a lab VM needs (python start-up is slow under TCG).
datasource_list: [NoCloud, None]
locale: C.UTF-8
manage_etc_hosts: true
preserve_hostname: false
network:
  config: disabled
ssh_deletekeys: true
ssh_genkeytypes: [ed25519]
ssh_quiet_keygen: true
ssh:
  emit_keys_to_console: false
no_ssh_fingerprints: true
cloud_init_modules:
  - bootcmd
  - write_files
  - resizefs
  - set_hostname
  - update_hostname
  - update_etc_hosts
  - users_groups
  - ssh
# No config stage (cloud-config.service is masked: one python start-up less); runcmd only writes the
# script that scripts_user runs, so it moves to the final stage, just before it.
cloud_config_modules: []
cloud_final_modules:
  - write_files_deferred
  - runcmd
  - scripts_per_once
  - scripts_per_boot
  - scripts_per_instance
  - scripts_user
  - final_message
`;

// Replaces Debian's cloud-init.service: same stage, the same place before sshd and sysinit.target, but
// not after systemd-networkd-wait-online. The seed is a local disk and network config is disabled, so
// nothing in this stage needs the network, and DHCP (seconds under TCG) then overlaps it.
const CLOUD_INIT_UNIT = `[Unit]
Description=cloud-init network stage (pcocc lab: NoCloud seed on a disk, no wait for the network)
DefaultDependencies=no
After=systemd-remount-fs.service
Before=sysinit.target shutdown.target systemd-user-sessions.service network-online.target ssh.service
Conflicts=shutdown.target
RequiresMountsFor=/var/lib/cloud

[Service]
Type=oneshot
ExecStart=/usr/bin/cloud-init init
# First call on the one vCPU while udev coldplug, journald, networkd and resolved start beside it: python's
# start-up alone took 8-19 s of a 24 s stage before this.
CPUWeight=1000
Nice=-5
RemainAfterExit=yes
TimeoutSec=0
StandardOutput=journal+console

[Install]
WantedBy=cloud-init.target
`;

// sshd is next on the way to `pcocc ssh`, and as contended.
const SSH_FIRST = `[Service]
CPUWeight=1000
Nice=-5
`;

// eth0 (NAT network) decides "online"; other NICs (eth1 on the private network) may stay silent.
const NETWORK_ETH0 = `[Match]
Name=eth0

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no

[DHCPv4]
ClientIdentifier=mac
RouteMetric=100
`;

const NETWORK_OTHERS = `[Match]
Name=eth* en*

[Link]
RequiredForOnline=no

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no

[DHCPv4]
ClientIdentifier=mac
RouteMetric=1024
`;

const WAIT_ONLINE = `[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=20
`;

export const CLOUD_ROOT_FILES: Record<string, RootFile> = {
  "etc/fstab": { content: "LABEL=rootfs / ext4 rw,noatime,errors=remount-ro 0 1\n" },
  "etc/hostname": { content: "localhost\n" },
  "etc/hosts": { content: "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" },
  // Empty: each VM gets its own machine-id (and so its own DHCP/DUID identity) at first boot.
  "etc/machine-id": { content: "" },
  "etc/sysctl.d/60-pcocc-ping.conf": { content: "net.ipv4.ping_group_range = 0 2147483647\n" },
  "etc/systemd/network/10-eth0.network": { content: NETWORK_ETH0 },
  "etc/systemd/network/20-other-nics.network": { content: NETWORK_OTHERS },
  "etc/systemd/system/systemd-networkd-wait-online.service.d/pcocc.conf": { content: WAIT_ONLINE },
  "etc/cloud/cloud.cfg.d/90_pcocc_lab.cfg": { content: CLOUD_CFG },
  // The datasource is known (NoCloud); skip ds-identify's probing, a long shell script under TCG.
  "etc/cloud/ds-identify.cfg": { content: "policy: enabled\n" },
  "etc/systemd/system/cloud-init.service": { content: CLOUD_INIT_UNIT },
  // A lab VM's disk is a throw-away overlay: keeping the journal in /run drops systemd-journal-flush, a
  // 4 s step under TCG on the way to sysinit.target and so to sshd.
  "etc/systemd/journald.conf.d/pcocc-volatile.conf": { content: "[Journal]\nStorage=volatile\n" },
  "etc/systemd/system/ssh.service.d/pcocc-first.conf": { content: SSH_FIRST },
  "etc/systemd/system/pcocc-guest-ready.service": { content: READY_UNIT },
  "usr/local/sbin/pcocc-guest-ready": { content: READY_SCRIPT, mode: 0o755 },
  "etc/dpkg/dpkg.cfg.d/01-pcocc-nodoc": {
    content:
      "path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n",
  },
};

/** Symlinks (path → target) laid over the tree. */
export const CLOUD_ROOT_LINKS: Record<string, string> = {
  "etc/resolv.conf": "../run/systemd/resolve/stub-resolv.conf",
  // cloud-init's generator runs ds-identify (a long shell script) while systemd waits for all generators
  // before it starts any unit: ~4 s of a TCG boot. Its one outcome here is known, cloud-init enabled, so
  // the generator is masked and its link made once.
  "etc/systemd/system-generators/cloud-init-generator": "/dev/null",
  "etc/systemd/system/multi-user.target.wants/cloud-init.target": "/lib/systemd/system/cloud-init.target",
};

export const CLOUD_ENABLE_UNITS = [
  "systemd-networkd.service",
  "systemd-resolved.service",
  "pcocc-guest-ready.service",
];
// Periodic maintenance a short-lived lab VM never needs, and that competes for TCG time at boot.
export const CLOUD_MASK_UNITS = [
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
  "e2scrub_all.timer",
  "e2scrub_reap.service",
  "fstrim.timer",
  "dpkg-db-backup.timer",
  "getty@tty1.service",
  "cloud-init-hotplugd.socket",
  "systemd-binfmt.service",
  "proc-sys-fs-binfmt_misc.automount",
  "systemd-pstore.service",
  "sys-kernel-debug.mount",
  "sys-kernel-tracing.mount",
  // No pam_systemd in this image (libpam-systemd is not installed), so nothing needs seat/session tracking.
  "systemd-logind.service",
  // cloud-init's pre-network stage only writes network config (disabled above) and finds the datasource,
  // which the network stage does as well: one python start-up (10-25 s under TCG) less before sshd.
  // The image's system users were made when its packages were installed; no need to check each boot
  // (it sits between journald and tmpfiles on the way to sysinit.target).
  "systemd-sysusers.service",
  // Before sysinit.target too; the overlay is thrown away at exit, so there is no seed to carry over, and
  // the guest has virtio-rng.
  "systemd-random-seed.service",
  "dev-hugepages.mount",
  "cloud-init-local.service",
  "cloud-config.service",
  // Early module loads for devices a lab VM rarely uses; the kernel still autoloads them on first open
  // of their static nodes (kmod-static-nodes), and each modprobe costs ~2 s of the one vCPU at boot.
  "modprobe@dm_mod.service",
  "modprobe@drm.service",
  "modprobe@efi_pstore.service",
  "modprobe@fuse.service",
  "modprobe@loop.service",
];

/** Trimmed after debootstrap: documentation, translations, apt indexes, build-time host keys. */
export const CLOUD_TRIM_DIRS = [
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/locale",
  "usr/share/lintian",
  "var/lib/apt/lists",
  "var/cache/apt",
];
