import { readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { buildCpio, type CpioEntry } from "./cpio.js";
import type { KernelTree } from "./kernel.js";
import { moduleClosure } from "./kernel.js";

/** Debian's busybox-static: one binary for every tool an initramfs needs, no libc to carry. */
export const BUSYBOX = "/bin/busybox";

const BASE_DIRS = ["bin", "sbin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "run", "mnt"];

export interface InitramfsSpec {
  kernel: KernelTree;
  /** Module names; dependencies are added and ordered from modules.dep. */
  modules: readonly string[];
  /** The /init script. */
  init: string;
  extra?: readonly CpioEntry[];
  /** Setuid busybox: its ping then works for every user (busybox drops root for all other applets). */
  setuidBusybox?: boolean;
}

/**
 * Writes a busybox initramfs whose modules sit flat in /lib/modules with their load order in
 * /etc/modules.order (busybox insmod, no depmod data needed inside).
 */
export async function writeInitramfs(out: string, spec: InitramfsSpec): Promise<void> {
  const entries: CpioEntry[] = BASE_DIRS.map((path) => ({ path, type: "dir" as const }));
  entries.push(
    { path: "tmp", type: "dir", mode: 0o1777 },
    { path: "dev/console", type: "char", mode: 0o600, major: 5, minor: 1 },
    { path: "dev/null", type: "char", mode: 0o666, major: 1, minor: 3 },
    {
      path: "bin/busybox",
      type: "file",
      mode: spec.setuidBusybox ? 0o4755 : 0o755,
      data: await readFile(BUSYBOX),
    },
    { path: "bin/sh", type: "symlink", target: "busybox" },
    { path: "init", type: "file", mode: 0o755, data: Buffer.from(spec.init) },
  );
  const mods = await moduleClosure(spec.kernel, spec.modules);
  for (const rel of mods) {
    const data = await readFile(join(spec.kernel.modulesDir, rel));
    entries.push({ path: `lib/modules/${basename(rel)}`, type: "file", data });
  }
  const order = mods.map((m) => basename(m)).join("\n") + "\n";
  entries.push({ path: "etc/modules.order", type: "file", data: Buffer.from(order) });
  entries.push(...(spec.extra ?? []));
  await writeFile(out, buildCpio(entries), { mode: 0o644 });
}
