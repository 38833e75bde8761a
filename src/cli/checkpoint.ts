import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { PcoccError } from "../util/index.js";
import {
  checkpointFiles,
  checkpointManifestPath,
  checkpointVm,
  freezeGuest,
  locateLocalVm,
  parseVmSet,
  type CheckpointManifest,
  type CheckpointVmMeta,
} from "../vm/index.js";
import { hopToVmNodes, type VmTargetOptions } from "./vm-target.js";

export interface CheckpointCliOptions extends VmTargetOptions {
  force?: boolean;
  /** Internal: the VMs of this node, when the checkpoint hopped here. */
  vms?: string;
}

/**
 * `pcocc ckpt DIR`: every VM writes its disk layer and memory into DIR, each on its own node (the directory
 * is on a shared file system, like the user's home), then quits, which ends the cluster. Resolves with the
 * exit status.
 */
export async function checkpointCluster(dirArg: string, opts: CheckpointCliOptions): Promise<number> {
  const dir = resolve(dirArg);
  if (opts.vms !== undefined) {
    const ranks = parseVmSet(opts.vms);
    return (await checkpointLocal(dir, ranks, { jobId: opts.jobid, force: opts.force })) ? 0 : 255;
  }
  // the user's mistakes first, before asking SLURM and etcd; nothing is created before the job is known
  await checkDir(dir, opts.force === true);
  const ready = () => prepareDir(dir);
  if (opts.stateDir) {
    const ep = await locateLocalVm({ stateDir: opts.stateDir });
    await ready();
    const ok = await checkpointLocal(dir, [ep.info.rank], { stateDir: opts.stateDir, force: opts.force });
    return ok ? 0 : 255;
  }
  let localOk = false;
  const { hopCodes, definition, total } = await hopToVmNodes(
    "all",
    opts,
    (set) => ["ckpt", dir, "--vms", set, ...(opts.force ? ["-F"] : [])],
    {
      pty: false,
      ready,
      here: async (ranks, jobId) => {
        localOk = await checkpointLocal(dir, ranks, { jobId, force: opts.force });
      },
    },
  );
  if (!localOk || hopCodes.some((c) => c !== 0)) {
    process.stderr.write(`pcocc: the checkpoint in ${dir} is incomplete\n`);
    return 255;
  }
  const manifest: CheckpointManifest = { definition: definition!, vms: total };
  await writeFile(checkpointManifestPath(dir), `${JSON.stringify(manifest)}\n`, { mode: 0o600 });
  process.stderr.write(`Checkpoint of ${total} VMs written to ${dir}; the cluster ends now\n`);
  return 0;
}

/** DIR's parent must exist; DIR itself only with -F (pcocc's rule). */
async function checkDir(dir: string, force: boolean): Promise<void> {
  const parent = await stat(dirname(dir)).catch(() => undefined);
  if (!parent?.isDirectory()) throw new PcoccError(`unable to create ${dir}: ${dirname(dir)} does not exist`);
  const st = await stat(dir).catch(() => undefined);
  if (st && !force) throw new PcoccError(`${dir} already exists (use -F to overwrite the checkpoint in it)`);
  if (st && !st.isDirectory()) throw new PcoccError(`${dir} is not a directory`);
}

/** Once the cluster is known to be the user's: DIR, without the manifest of an earlier checkpoint. */
async function prepareDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await rm(checkpointManifestPath(dir), { force: true });
}

/** Checkpoints this node's VMs in parallel; reports each failure and resolves false if any. */
async function checkpointLocal(
  dir: string,
  ranks: number[],
  where: { jobId?: string; stateDir?: string; force?: boolean },
): Promise<boolean> {
  const results = await Promise.allSettled(ranks.map((rank) => checkpointOne(dir, rank, where)));
  for (const r of results)
    if (r.status === "rejected") process.stderr.write(`pcocc: ${(r.reason as Error).message}\n`);
  return results.every((r) => r.status === "fulfilled");
}

/** One VM: its metadata, its file systems frozen (a warning if its agent does not answer), its checkpoint. */
async function checkpointOne(
  dir: string,
  rank: number,
  where: { jobId?: string; stateDir?: string; force?: boolean },
): Promise<void> {
  const ep = await locateLocalVm({ vm: `vm${rank}`, jobId: where.jobId, stateDir: where.stateDir });
  const files = checkpointFiles(dir, rank);
  if (where.force) await Promise.all(Object.values(files).map((f) => rm(f, { force: true })));
  const meta: CheckpointVmMeta = { memoryMiB: ep.info.memoryMiB, vcpus: ep.info.vcpus };
  await writeFile(files.meta, `${JSON.stringify(meta)}\n`, { mode: 0o600, flag: "wx" });
  // held frozen in the checkpoint: the restored VM's hypervisor thaws it once it runs again
  const guest = await freezeGuest({
    vm: ep,
    otherwise: "checkpointing it without freezing its file systems",
    warn: (line) => process.stderr.write(`pcocc: ${line}\n`),
  });
  if (guest.frozen > 0) process.stderr.write(`${ep.name}: ${guest.frozen} file system(s) frozen\n`);
  try {
    await checkpointVm(ep, {
      disk: ep.info.imagePath ? files.disk : undefined,
      memory: files.memory,
      onPhase: (phase) => process.stderr.write(`${ep.name}: saving its ${phase}\n`),
    });
  } catch (err) {
    await guest.thaw();
    throw err;
  }
  guest.close();
  process.stderr.write(`${ep.name}: checkpointed\n`);
}
