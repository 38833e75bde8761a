import { mkdir, readFile, realpath, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { PcoccError } from "../../util/errors.js";
import type { CpioEntry } from "./cpio.js";
import { writeInitramfs } from "./initramfs.js";
import { downloadDebs, extractDebs, type KernelTree } from "./kernel.js";
import { BOOT_MODULES } from "./recipe.js";
import { run } from "./run.js";
import { TINY_BOOT_SCRIPT, TINY_INITTAB, UDHCPC_SCRIPT, YAML_AWK } from "./tiny-scripts.js";

/**
 * What the tiny guest understands of a NoCloud seed. It is a test guest for many-VM tests, not
 * cloud-init; anything outside this list is ignored.
 */
export const TINY_NOCLOUD_SUBSET = `tiny lab guest — NoCloud SUBSET (not cloud-init):
- seed: volume labelled cidata (ISO 9660 or VFAT) on any virtio disk;
- meta-data: instance-id, local-hostname (user-data "hostname" when meta-data has none);
- user-data "#cloud-config", block-style YAML plus [flow, lists] of scalars:
  users: "default" (user debian, uid 1000) and entries with name + ssh_authorized_keys (other keys such
    as sudo, groups, shell are ignored; no sudo in this guest); top-level ssh_authorized_keys go to debian;
    without a users key the default user exists;
  write_files: path, content (plain or encoding b64), permissions, owner, append;
  bootcmd / runcmd: strings (run by sh) or argv lists; run once per boot, runcmd after network + sshd;
- user-data starting with "#!" is run as a script after runcmd;
- DHCP (udhcpc) on every NIC, dropbear ssh (keys only), busybox ping for every user (setuid busybox,
  which drops root for all other applets), getent from libc-bin,
  a disk labelled pcocc-tiny is mounted on /data;
- prints "pcocc-guest: ready hostname=<name>" on the console when done.`;

const SSH_PACKAGES = [
  "libc-bin",
  "dropbear-bin",
  "libtomcrypt1",
  "libtommath1",
  "libgmp10",
  "zlib1g",
  "libcrypt1",
  "libc6",
];
const SSH_LIBS = [
  "ld-linux-x86-64.so.2",
  "libc.so.6",
  "libcrypt.so.1",
  "libz.so.1",
  "libgmp.so.10",
  "libtommath.so.1",
  "libtomcrypt.so.1",
];

const ETC_FILES: Record<string, string> = {
  "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
  "etc/shadow": "root:*:19000:0:99999:7:::\n",
  "etc/group": "root:x:0:\ntty:x:5:\n",
  "etc/shells": "/bin/sh\n/bin/ash\n",
  "etc/hosts": "127.0.0.1 localhost\n",
  "etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
  "etc/inittab": TINY_INITTAB,
};

export const TINY_RECIPE = {
  packages: SSH_PACKAGES,
  libs: SSH_LIBS,
  etc: ETC_FILES,
  boot: TINY_BOOT_SCRIPT,
  awk: YAML_AWK,
  udhcpc: UDHCPC_SCRIPT,
  modules: BOOT_MODULES,
  dataDisk: "256M",
  setuidBusybox: true,
};

async function findIn(root: string, name: string): Promise<string> {
  for (const dir of ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "usr/sbin", "usr/bin"]) {
    const path = join(root, dir, name);
    if (await stat(path).catch(() => undefined)) return realpath(path);
  }
  throw new PcoccError(`tiny guest: ${name} not found in the Debian packages ${SSH_PACKAGES.join(", ")}`);
}

async function sshEntries(work: string): Promise<CpioEntry[]> {
  const root = join(work, "debs-root");
  await extractDebs(await downloadDebs(join(work, "debs"), SSH_PACKAGES), root);
  const entries: CpioEntry[] = [
    { path: "usr", type: "dir" },
    { path: "usr/bin", type: "dir" },
    { path: "usr/sbin", type: "dir" },
    { path: "lib/x86_64-linux-gnu", type: "dir" },
    { path: "lib64", type: "dir" },
    {
      path: "lib64/ld-linux-x86-64.so.2",
      type: "symlink",
      target: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    },
  ];
  for (const bin of ["usr/sbin/dropbear", "usr/bin/dropbearkey", "usr/bin/getent"]) {
    entries.push({ path: bin, type: "file", mode: 0o755, data: await readFile(join(root, bin)) });
  }
  for (const lib of SSH_LIBS) {
    const data = await readFile(await findIn(root, lib));
    entries.push({ path: `lib/x86_64-linux-gnu/${lib}`, type: "file", mode: 0o755, data });
  }
  return entries;
}

export async function buildTiny(opts: { kernel: KernelTree; work: string; out: string }): Promise<void> {
  const { kernel, work, out } = opts;
  await mkdir(out, { recursive: true });
  const extra: CpioEntry[] = [
    { path: "etc/pcocc", type: "dir" },
    { path: "etc/pcocc/boot.sh", type: "file", mode: 0o755, data: Buffer.from(TINY_BOOT_SCRIPT) },
    { path: "etc/pcocc/yaml.awk", type: "file", data: Buffer.from(YAML_AWK) },
    { path: "etc/pcocc/udhcpc.script", type: "file", mode: 0o755, data: Buffer.from(UDHCPC_SCRIPT) },
    { path: "home", type: "dir" },
    { path: "root", type: "dir", mode: 0o700 },
    { path: "var", type: "dir" },
    ...Object.entries(ETC_FILES).map(([path, text]) => ({
      path,
      type: "file" as const,
      mode: path === "etc/shadow" ? 0o600 : 0o644,
      data: Buffer.from(text),
    })),
    ...(await sshEntries(work)),
  ];
  // busybox init is PID 1 (inittab runs boot.sh), so the console gets a getty and the VM powers off cleanly.
  const init = "#!/bin/sh\nexec /bin/busybox init\n";
  await writeInitramfs(join(out, "initrd.img"), {
    kernel,
    modules: BOOT_MODULES,
    init,
    extra,
    setuidBusybox: true,
  });
  const raw = join(work, "data.img");
  await run(["mkfs.ext4", "-q", "-F", "-L", "pcocc-tiny", "-m", "0", raw, TINY_RECIPE.dataDisk]);
  await run(["qemu-img", "convert", "-O", "qcow2", raw, join(out, "disk.qcow2")]);
  await rm(raw, { force: true });
}
