import { chmod, cp, mkdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CLOUD_INITRAMFS_INIT } from "./boot-init.js";
import {
  CLOUD_ENABLE_UNITS,
  CLOUD_MASK_UNITS,
  CLOUD_ROOT_FILES,
  CLOUD_ROOT_LINKS,
  CLOUD_TRIM_DIRS,
} from "./cloud-files.js";
import { writeInitramfs } from "./initramfs.js";
import type { KernelTree } from "./kernel.js";
import {
  BOOT_MODULES,
  CLOUD_MODULE_DIRS,
  CLOUD_MODULE_EXCLUDE,
  CLOUD_PACKAGES,
  CLOUD_ROOTFS_SIZE,
  DEBIAN_SUITE,
} from "./recipe.js";
import { run } from "./run.js";

/**
 * `quiet`: the kernel's and systemd's boot messages are ~40 KB on the serial console, each byte a trapped
 * port write under TCG; errors still show, and so do cloud-init's lines and the ready line.
 */
export const CLOUD_KERNEL_ARGS = "console=ttyS0 root=LABEL=rootfs rw net.ifnames=0 quiet";

export const DEBOOTSTRAP_RECIPE = { suite: DEBIAN_SUITE, variant: "minbase", include: CLOUD_PACKAGES };

export const CLOUD_RECIPE = {
  files: CLOUD_ROOT_FILES,
  links: CLOUD_ROOT_LINKS,
  enable: CLOUD_ENABLE_UNITS,
  mask: CLOUD_MASK_UNITS,
  trim: CLOUD_TRIM_DIRS,
  moduleDirs: CLOUD_MODULE_DIRS,
  moduleExclude: CLOUD_MODULE_EXCLUDE,
  bootModules: BOOT_MODULES,
  initramfsInit: CLOUD_INITRAMFS_INIT,
  rootfsSize: CLOUD_ROOTFS_SIZE,
  // in the recipe: the manifest records them, so a change must make a new build
  kernelArgs: CLOUD_KERNEL_ARGS,
};

/** debootstrap into dir/root (64–85 s here, most of it dpkg configuring packages). */
export async function debootstrap(dir: string): Promise<void> {
  const { suite, variant, include } = DEBOOTSTRAP_RECIPE;
  await run([
    "debootstrap",
    `--variant=${variant}`,
    `--include=${include.join(",")}`,
    suite,
    join(dir, "root"),
  ]);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function customise(root: string, kernel: KernelTree): Promise<void> {
  for (const d of CLOUD_TRIM_DIRS) {
    await rm(join(root, d), { recursive: true, force: true });
    await mkdir(join(root, d), { recursive: true });
  }
  await mkdir(join(root, "var/lib/apt/lists/partial"), { recursive: true });
  await mkdir(join(root, "var/cache/apt/archives/partial"), { recursive: true });
  for (const key of ["rsa", "ecdsa", "ed25519", "dsa"]) {
    await rm(join(root, `etc/ssh/ssh_host_${key}_key`), { force: true });
    await rm(join(root, `etc/ssh/ssh_host_${key}_key.pub`), { force: true });
  }
  await rm(join(root, "var/lib/dbus/machine-id"), { force: true });
  for (const [path, file] of Object.entries(CLOUD_ROOT_FILES)) {
    const abs = join(root, path);
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, file.content);
    await chmod(abs, file.mode ?? 0o644);
  }
  for (const [path, target] of Object.entries(CLOUD_ROOT_LINKS)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await rm(join(root, path), { force: true });
    await symlink(target, join(root, path));
  }
  const modRoot = join(root, "lib/modules", kernel.version);
  for (const sub of CLOUD_MODULE_DIRS) {
    const src = join(kernel.modulesDir, sub);
    if (!(await exists(src))) continue;
    await mkdir(dirname(join(modRoot, sub)), { recursive: true });
    await cp(src, join(modRoot, sub), {
      recursive: true,
      filter: (path) => !CLOUD_MODULE_EXCLUDE.some((x) => path.startsWith(join(kernel.modulesDir, x))),
    });
  }
  for (const f of ["modules.builtin", "modules.builtin.modinfo", "modules.order"]) {
    await cp(join(kernel.modulesDir, f), join(modRoot, f));
  }
  await run(["depmod", "-b", root, kernel.version]);
  await run(["systemctl", `--root=${root}`, "enable", ...CLOUD_ENABLE_UNITS]);
  await run(["systemctl", `--root=${root}`, "mask", ...CLOUD_MASK_UNITS]);
}

/** apt-get install in the tree, no daemon started (policy-rc.d), the host's resolver borrowed meanwhile. */
async function installPackages(root: string, packages: string[]): Promise<void> {
  const policy = join(root, "usr/sbin/policy-rc.d");
  const resolv = join(root, "etc/resolv.conf");
  await writeFile(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  await rm(resolv, { force: true });
  await cp("/etc/resolv.conf", resolv);
  try {
    await run([
      "chroot",
      root,
      "sh",
      "-c",
      "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends " +
        packages.join(" "),
    ]);
  } finally {
    // customise() puts systemd-resolved's stub link back
    await rm(policy, { force: true });
    await rm(resolv, { force: true });
  }
}

/** Builds kernel-less parts of the cloud image into out/: disk.qcow2 and initrd.img. */
export async function buildCloud(opts: {
  debootstrapRoot: string;
  kernel: KernelTree;
  work: string;
  out: string;
  log: (msg: string) => void;
  /** Extra packages and units to leave disabled (the recipes' guest). */
  extra?: { packages: string[]; disable: string[] };
}): Promise<void> {
  const { kernel, work, out, log } = opts;
  const root = join(work, "root");
  await mkdir(out, { recursive: true });
  log("guest: copying the debootstrap tree and customising it (about 10 s)...");
  await run(["cp", "-a", "--reflink=auto", opts.debootstrapRoot, root]);
  if (opts.extra) {
    log(`guest: apt-get install ${opts.extra.packages.join(" ")}...`);
    await installPackages(root, opts.extra.packages);
  }
  await customise(root, kernel);
  if (opts.extra) await run(["systemctl", `--root=${root}`, "disable", ...opts.extra.disable]);
  log("guest: mkfs.ext4 + qcow2 zstd conversion (about 30 s)...");
  const raw = join(work, "rootfs.img");
  await run(["mkfs.ext4", "-q", "-F", "-L", "rootfs", "-m", "1", "-d", root, raw, CLOUD_ROOTFS_SIZE]);
  await rm(root, { recursive: true, force: true });
  const disk = join(out, "disk.qcow2");
  try {
    await run(["qemu-img", "convert", "-O", "qcow2", "-c", "-o", "compression_type=zstd", raw, disk]);
  } catch {
    await run(["qemu-img", "convert", "-O", "qcow2", raw, disk]);
  }
  await rm(raw, { force: true });
  await chmod(disk, 0o644);
  await writeInitramfs(join(out, "initrd.img"), {
    kernel,
    modules: BOOT_MODULES,
    init: CLOUD_INITRAMFS_INIT,
  });
}
