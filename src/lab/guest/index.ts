import { lstat, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PcoccError } from "../../util/errors.js";
import {
  DEFAULT_CACHE_DIR,
  publish,
  pruneOtherRecipes,
  stagingDir,
  sweepStaging,
  withCacheLock,
} from "./cache.js";
import { buildCloud, CLOUD_KERNEL_ARGS, CLOUD_RECIPE, DEBOOTSTRAP_RECIPE, debootstrap } from "./cloud.js";
import { buildKernelTree, type KernelTree, readKernelTree } from "./kernel.js";
import { BUILD_VERSION, KERNEL_META_PACKAGE, recipeHash, VSLURM_RECIPE } from "./recipe.js";
import { buildTiny, TINY_RECIPE } from "./tiny.js";

export { DEFAULT_CACHE_DIR } from "./cache.js";
export { TINY_NOCLOUD_SUBSET } from "./tiny.js";

/** A directly booted guest: QEMU `-kernel`, `-initrd`, `-append kernelArgs`, disk on virtio-blk. */
export interface GuestImage {
  kernel: string;
  initrd: string;
  /** qcow2, used as the template image. */
  disk: string;
  kernelArgs: string;
}

export interface GuestImages {
  /** Debian 12 + real cloud-init: the `lab` template. */
  cloud: GuestImage;
  /** NoCloud-SUBSET busybox guest for many-VM tests: the `lab-tiny` template. */
  tiny: Omit<GuestImage, "disk"> & { disk?: string };
  /** The cloud guest plus SLURM, munge and Open MPI: the recipes' templates (vslurm-head, vslurm-node). */
  vslurm: GuestImage;
}

export interface EnsureGuestImagesOptions {
  cacheDir?: string;
  log?: (msg: string) => void;
}

const TINY_KERNEL_ARGS = "console=ttyS0 net.ifnames=0";

/**
 * An image's manifest, valid only while every file exists and the cached kernel is the one its
 * modules were copied from (a re-fetched kernel tree may be a newer Debian kernel).
 */
async function readManifest<T>(dir: string, kernel: KernelTree | undefined): Promise<T | undefined> {
  if (!kernel) return undefined;
  try {
    const { kernelVersion, ...image } = JSON.parse(await readFile(join(dir, "image.json"), "utf8")) as Record<
      string,
      string
    >;
    if (kernelVersion !== kernel.version) return undefined;
    for (const key of ["kernel", "initrd", "disk"]) if (image[key]) await stat(image[key]);
    return image as T;
  } catch {
    return undefined;
  }
}

async function writeManifest(dir: string, image: object, kernel: KernelTree): Promise<void> {
  await writeFile(
    join(dir, "image.json"),
    JSON.stringify({ ...image, kernelVersion: kernel.version }, null, 2),
  );
}

/**
 * Returns the lab guest images, building what is missing. Each part lives in its own cache dir named by
 * the hash of its recipe (package lists, scripts, config files), so editing the recipe rebuilds only
 * what it affects and an unchanged recipe costs a few stat calls.
 */
export async function ensureGuestImages(opts: EnsureGuestImagesOptions = {}): Promise<GuestImages> {
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
  const log = opts.log ?? (() => {});
  const kernelDir = join(cacheDir, `kernel-${recipeHash({ BUILD_VERSION, KERNEL_META_PACKAGE })}`);
  const debootstrapHash = recipeHash({ BUILD_VERSION, DEBOOTSTRAP_RECIPE });
  const debootstrapDir = join(cacheDir, `debootstrap-${debootstrapHash}`);
  const cloudDir = join(
    cacheDir,
    `cloud-${recipeHash({ BUILD_VERSION, kernelDir, debootstrapHash, CLOUD_RECIPE })}`,
  );
  const tinyDir = join(cacheDir, `tiny-${recipeHash({ BUILD_VERSION, kernelDir, TINY_RECIPE })}`);
  const vslurmDir = join(
    cacheDir,
    `vslurm-${recipeHash({ BUILD_VERSION, kernelDir, debootstrapHash, CLOUD_RECIPE, VSLURM_RECIPE })}`,
  );

  const cached = async () => {
    const kernel = await readKernelTree(kernelDir);
    const cloud = await readManifest<GuestImage>(cloudDir, kernel);
    const tiny = await readManifest<GuestImages["tiny"]>(tinyDir, kernel);
    const vslurm = await readManifest<GuestImage>(vslurmDir, kernel);
    return cloud && tiny && vslurm ? { cloud, tiny, vslurm } : undefined;
  };
  const hit = await cached();
  if (hit) return hit;
  if (process.getuid?.() !== 0) {
    throw new PcoccError(`the lab guest images in ${cacheDir} are missing and building them needs root`);
  }

  return withCacheLock(cacheDir, async () => {
    const again = await cached();
    if (again) return again;
    await sweepStaging(cacheDir);
    const started = Date.now();

    let kernel: KernelTree | undefined = await readKernelTree(kernelDir);
    if (!kernel) {
      log(`guest: downloading and unpacking ${KERNEL_META_PACKAGE} (about 15 s)...`);
      const work = await stagingDir(cacheDir, "kernel");
      await buildKernelTree(work, KERNEL_META_PACKAGE);
      await publish(work, kernelDir);
      kernel = await readKernelTree(kernelDir);
      if (!kernel) throw new PcoccError(`${kernelDir}: kernel tree missing after build`);
    }

    const parts = { cacheDir, kernel, debootstrapDir, log };
    const cloud = await ensureCloudLike(parts, cloudDir);
    const vslurm = await ensureCloudLike(parts, vslurmDir, VSLURM_RECIPE);

    let tiny = await readManifest<GuestImages["tiny"]>(tinyDir, kernel);
    if (!tiny) {
      log("guest: building the tiny NoCloud-subset guest (about 10 s)...");
      const work = await stagingDir(cacheDir, "tiny");
      const out = join(work, "out");
      await buildTiny({ kernel, work, out });
      tiny = {
        kernel: kernel.image,
        initrd: join(tinyDir, "initrd.img"),
        disk: join(tinyDir, "disk.qcow2"),
        kernelArgs: TINY_KERNEL_ARGS,
      };
      await writeManifest(out, tiny, kernel);
      await publish(out, tinyDir);
    }
    await sweepStaging(cacheDir);
    await pruneOtherRecipes(cacheDir, [kernelDir, debootstrapDir, cloudDir, tinyDir, vslurmDir]);
    log(`guest: images ready in ${cacheDir} (${Math.round((Date.now() - started) / 1000)} s)`);
    return { cloud, tiny, vslurm };
  });
}

/** A Debian guest (the cloud one, or it plus `extra` packages) in `dir`, built from the debootstrap tree. */
async function ensureCloudLike(
  p: { cacheDir: string; kernel: KernelTree; debootstrapDir: string; log: (msg: string) => void },
  dir: string,
  extra?: typeof VSLURM_RECIPE,
): Promise<GuestImage> {
  const { cacheDir, kernel, debootstrapDir, log } = p;
  const have = await readManifest<GuestImage>(dir, kernel);
  if (have) return have;
  // lstat: /sbin/init is an absolute symlink, meaningful only inside the tree.
  if (!(await lstat(join(debootstrapDir, "root", "sbin/init")).catch(() => undefined))) {
    log(`guest: debootstrap ${DEBOOTSTRAP_RECIPE.suite} minbase + cloud-init (about 80 s)...`);
    const work = await stagingDir(cacheDir, "debootstrap");
    await debootstrap(work);
    await publish(work, debootstrapDir);
  }
  const work = await stagingDir(cacheDir, extra ? "vslurm" : "cloud");
  const out = join(work, "out");
  await buildCloud({ debootstrapRoot: join(debootstrapDir, "root"), kernel, work, out, log, extra });
  const image = {
    kernel: kernel.image,
    initrd: join(dir, "initrd.img"),
    disk: join(dir, "disk.qcow2"),
    kernelArgs: CLOUD_KERNEL_ARGS,
  };
  await writeManifest(out, image, kernel);
  await publish(out, dir);
  return image;
}
