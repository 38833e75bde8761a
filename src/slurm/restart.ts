import { access, readFile } from "node:fs/promises";
import { PcoccError } from "../util/index.js";
import {
  checkpointFiles,
  checkpointManifestPath,
  type CheckpointManifest,
  type CheckpointVmMeta,
} from "../vm/index.js";

/** `-r DIR`, checked on the login node before SLURM is asked: a complete checkpoint of this very cluster. */
export async function checkRestartDir(dir: string, definition: string, vms: number): Promise<void> {
  const manifestFile = checkpointManifestPath(dir);
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(await readFile(manifestFile, "utf8")) as CheckpointManifest;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new PcoccError(`-r ${dir}: not a complete pcocc checkpoint (${manifestFile}: ${why})`);
  }
  if (manifest.definition !== definition || manifest.vms !== vms) {
    throw new PcoccError(
      `-r ${dir}: this is a checkpoint of cluster '${manifest.definition}'; restart it with that definition`,
    );
  }
  for (let rank = 0; rank < vms; rank++) {
    const { memory } = checkpointFiles(dir, rank);
    await access(memory).catch(() => {
      throw new PcoccError(`-r ${dir}: vm${rank}'s memory (${memory}) is missing`);
    });
  }
}

/**
 * What one VM restarts from, on its node. The job must give it the memory and vCPUs it was checkpointed
 * with: QEMU cannot load the state into another machine shape.
 */
export async function restoreFor(
  dir: string,
  rank: number,
  given: CheckpointVmMeta,
): Promise<{ memory: string; disk?: string }> {
  const files = checkpointFiles(dir, rank);
  const meta = JSON.parse(
    await readFile(files.meta, "utf8").catch((err: Error) => {
      throw new PcoccError(`vm${rank}: unable to read ${files.meta}: ${err.message}`);
    }),
  ) as CheckpointVmMeta;
  if (meta.memoryMiB !== given.memoryMiB || meta.vcpus !== given.vcpus) {
    throw new PcoccError(
      `vm${rank} was checkpointed with ${meta.vcpus} vCPUs and ${meta.memoryMiB} MiB; this job gives it ` +
        `${given.vcpus} vCPUs and ${given.memoryMiB} MiB: restart with the same -c and memory`,
    );
  }
  const hasDisk = await access(files.disk).then(
    () => true,
    () => false,
  );
  return { memory: files.memory, disk: hasDisk ? files.disk : undefined };
}
