import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LabPaths } from "./layout.js";
import type { GuestBoot } from "./pcocc-conf.js";

/**
 * Builds (once, cached) the lab guests and imports their disks into the lab's global repository as
 * `lab-guest` / `lab-tiny` / `lab-vslurm`; returns what the `lab`, `lab-tiny` and recipe templates boot.
 */
export async function prepareGuests(
  paths: LabPaths,
  log?: (message: string) => void,
): Promise<{ cloud: GuestBoot; tiny: GuestBoot; vslurm: GuestBoot }> {
  const { ensureGuestImages } = await import("./guest/index.js");
  const images = await ensureGuestImages({ log });
  const cloud: GuestBoot = {
    kernel: images.cloud.kernel,
    initrd: images.cloud.initrd,
    kernelArgs: images.cloud.kernelArgs,
    image: "lab-guest",
  };
  await importLabImage(paths, images.cloud.disk, "lab-guest");
  const tiny: GuestBoot = {
    kernel: images.tiny.kernel,
    initrd: images.tiny.initrd,
    kernelArgs: images.tiny.kernelArgs,
  };
  if (images.tiny.disk) {
    await importLabImage(paths, images.tiny.disk, "lab-tiny");
    tiny.image = "lab-tiny";
  }
  await importLabImage(paths, images.vslurm.disk, "lab-vslurm");
  const vslurm: GuestBoot = { ...cloud, initrd: images.vslurm.initrd, image: "lab-vslurm" };
  return { cloud, tiny, vslurm };
}

/**
 * Imports a guest disk into `<lab>/images` unless that exact file (path, size, mtime) was imported
 * before; a rebuilt disk replaces the previous image.
 */
async function importLabImage(paths: LabPaths, disk: string, name: string): Promise<void> {
  const st = statSync(disk);
  const source = `${disk} ${st.size} ${st.mtimeMs}`;
  const stamp = join(paths.dir, "image-imports", name);
  let previous = "";
  try {
    previous = readFileSync(stamp, "utf8");
  } catch {
    /* never imported */
  }
  const { importImage, deleteImage, listImageNames } = await import("../image/index.js");
  const repos = { repos: [{ name: "global", path: paths.images }] };
  const present = (await listImageNames(repos)).some((image) => image.name === name);
  if (present && previous === source) return;
  if (present) await deleteImage(repos, `global:${name}`);
  await importImage(repos, disk, `global:${name}`);
  mkdirSync(join(paths.dir, "image-imports"), { recursive: true });
  writeFileSync(stamp, source);
}
