import { mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { PcoccError } from "../../util/errors.js";
import { run } from "./run.js";

/** The Debian kernel, unpacked from its .deb (never installed on the host), with depmod run on it. */
export interface KernelTree {
  version: string;
  /** What QEMU boots: the uncompressed ELF when it could be extracted (no decompression under TCG). */
  image: string;
  modulesDir: string;
}

const APT_AS_ROOT = ["-o", "APT::Sandbox::User=root"];

/** Resolves the versioned package behind a meta-package such as `linux-image-amd64`. */
async function resolveMetaPackage(meta: string): Promise<string> {
  const show = await run(["apt-cache", "show", "--no-all-versions", meta]).catch((e: unknown) => {
    throw new PcoccError(`cannot find Debian package ${meta} (run apt-get update first)`, { cause: e });
  });
  const depends = /^Depends:\s*(\S+)/m.exec(show)?.[1];
  if (!depends) throw new PcoccError(`Debian package ${meta} names no kernel package`);
  return depends;
}

/** Downloads packages with apt (the only source of software here) into dir and returns the .deb paths. */
export async function downloadDebs(dir: string, packages: readonly string[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  await run(["apt-get", ...APT_AS_ROOT, "download", ...packages], { cwd: dir });
  const debs = (await readdir(dir)).filter((f) => f.endsWith(".deb"));
  return debs.map((f) => join(dir, f));
}

export async function extractDebs(debs: readonly string[], into: string): Promise<void> {
  await mkdir(into, { recursive: true });
  for (const deb of debs) await run(["dpkg-deb", "-x", deb, into]);
}

/**
 * The bzImage carries the real kernel as an xz stream; pulling it out once saves every TCG boot the
 * ~3 s the decompressor would take. Returns false when the image is not in the expected shape.
 */
async function extractVmlinux(bzImage: string, out: string): Promise<boolean> {
  const data = await readFile(bzImage);
  const at = data.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (at < 0) return false;
  try {
    await run(["xz", "-dc", "--single-stream"], { input: data.subarray(at), stdoutFile: out });
  } catch {
    return false;
  }
  const head = await readFile(out).then((b) => b.subarray(0, 4));
  return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
}

export async function buildKernelTree(dir: string, metaPackage: string): Promise<void> {
  const pkg = await resolveMetaPackage(metaPackage);
  const debs = await downloadDebs(join(dir, "debs"), [pkg]);
  const root = join(dir, "root");
  await extractDebs(debs, root);
  const versions = await readdir(join(root, "lib/modules"));
  const version = versions[0];
  if (versions.length !== 1 || !version) throw new PcoccError(`${pkg}: expected one module tree`);
  await run(["depmod", "-b", root, version]);
  const bzImage = join(root, "boot", `vmlinuz-${version}`);
  const vmlinux = join(dir, "vmlinux");
  const image = (await extractVmlinux(bzImage, vmlinux)) ? vmlinux : bzImage;
  if (image !== vmlinux) await rm(vmlinux, { force: true });
  await rm(join(dir, "debs"), { recursive: true, force: true });
  // Relative paths: the tree is built in a staging dir and renamed into the cache afterwards.
  const modulesDir = join("root/lib/modules", version);
  const manifest = { version, image: relative(dir, image), modulesDir };
  await writeFile(join(dir, "kernel.json"), JSON.stringify(manifest, null, 2));
}

export async function readKernelTree(dir: string): Promise<KernelTree | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, "kernel.json"), "utf8")) as KernelTree;
    const tree = { version: m.version, image: join(dir, m.image), modulesDir: join(dir, m.modulesDir) };
    await stat(tree.image);
    return tree;
  } catch {
    return undefined;
  }
}

const normalise = (name: string): string => name.replace(/-/g, "_");

/**
 * The modules to load, dependencies first, as paths relative to the module tree. Names the kernel has
 * built in are skipped; an unknown name is a recipe bug and fails the build.
 */
export async function moduleClosure(tree: KernelTree, names: readonly string[]): Promise<string[]> {
  const depText = await readFile(join(tree.modulesDir, "modules.dep"), "utf8");
  const builtin = await readFile(join(tree.modulesDir, "modules.builtin"), "utf8");
  const deps = new Map<string, string[]>();
  const pathOf = new Map<string, string>();
  for (const line of depText.split("\n")) {
    const [mod, rest] = line.split(":");
    if (!mod || rest === undefined) continue;
    deps.set(mod, rest.trim() ? rest.trim().split(/\s+/) : []);
    pathOf.set(normalise(mod.replace(/^.*\//, "").replace(/\.ko(\.\w+)?$/, "")), mod);
  }
  const isBuiltin = (n: string) =>
    builtin.split("\n").some((l) => normalise(l.replace(/^.*\//, "").replace(/\.ko$/, "")) === n);
  const order: string[] = [];
  const visit = (mod: string) => {
    if (order.includes(mod)) return;
    // modules.dep lists the full closure with the deepest dependency last.
    for (const d of [...(deps.get(mod) ?? [])].reverse()) visit(d);
    order.push(mod);
  };
  for (const name of names) {
    const mod = pathOf.get(normalise(name));
    if (mod) visit(mod);
    else if (!isBuiltin(normalise(name)))
      throw new PcoccError(`kernel ${tree.version} has no module ${name}`);
  }
  return order;
}
