import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import type { ClusterDefinition } from "../cluster/index.js";
import { expandPath, resolveTemplate, type PcoccConfig } from "../config/index.js";
import { PcoccError } from "../util/index.js";
import type { ClusterLaunchOptions, MountRequest } from "./batch-args.js";

/**
 * Why `path` cannot be used as a readable file (or directory; `writable`: a read-write file), or undefined
 * when it can.
 */
async function unreadable(
  path: string,
  want: "file" | "directory" | "writable",
): Promise<string | undefined> {
  try {
    const st = await stat(path);
    if (want === "directory" && !st.isDirectory()) return "not a directory";
    if (want !== "directory" && st.isDirectory()) return "is a directory";
    const mode = { directory: constants.R_OK | constants.X_OK, file: constants.R_OK };
    await access(path, want === "writable" ? constants.R_OK | constants.W_OK : mode[want]);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

/**
 * Every template of the definition, as this launch would use it, checked before SLURM is asked: its image
 * (or the `--image` given for it) resolves to a VM image revision, its user-data file (unless `--user-data`
 * replaces it) and its mount directories (unless a `--mount` of the same tag replaces them) are readable.
 * Fails on the first problem, naming the template and the key.
 */
export async function checkTemplates(
  config: PcoccConfig,
  cluster: ClusterDefinition,
  o: ClusterLaunchOptions,
  overrides: Map<string, string>,
  mounts: MountRequest[],
): Promise<void> {
  const { isDirectoryImage, requireVmImage, resolveImage } = await import("../image/index.js");
  const names = [...new Set(cluster.vms.map((v) => v.template))];
  await Promise.all(
    names.map(async (name) => {
      const s = resolveTemplate(config, name).settings;
      const bad = (key: string, value: string, why: string): never => {
        throw new PcoccError(`template '${name}': ${key} '${value}': ${why}`);
      };
      const image = overrides.get(name) ?? s.image ?? undefined;
      const key = overrides.has(name) ? "--image" : "image";
      if (image) {
        // a directory image's errors already name the template, in pcocc's words
        const own = !overrides.has(name) && isDirectoryImage(image);
        await resolveImage(config, image, { template: name })
          .then(requireVmImage)
          .catch((err: Error) => (own ? Promise.reject(err) : bad(key, image, err.message)));
      }
      const ud = s["user-data"];
      if (o.userData === undefined && typeof ud === "string") {
        const why = await unreadable(ud, "file");
        if (why) bad("user-data", ud, `cannot read it (${why})`);
      }
      for (const [tag, m] of Object.entries(s["mount-points"])) {
        if (mounts.some((cli) => cli.tag === tag)) continue;
        const why = await unreadable(m.path, "directory");
        if (why) bad(`mount-points.${tag}`, m.path, `cannot use it (${why})`);
      }
      // each VM's own path: `%{vm_rank}` gives every VM of the template its drive
      const ranks = cluster.vms.filter((v) => v.template === name).map((v) => v.rank);
      for (const [k, d] of s["persistent-drives"].entries())
        for (const vmRank of ranks) {
          const path = expandPath(d.path, { vmRank });
          const why = await unreadable(path, "writable");
          if (why) bad(`persistent-drives[${k}]`, path, `cannot use it read-write (${why})`);
        }
    }),
  );
}

/** The launch options' own files: `--user-data` and every `--mount` directory. */
export async function checkLaunchFiles(o: ClusterLaunchOptions, mounts: MountRequest[]): Promise<void> {
  if (o.userData !== undefined) {
    const why = await unreadable(o.userData, "file");
    if (why) throw new PcoccError(`--user-data '${o.userData}': cannot read it (${why})`);
  }
  for (const m of mounts) {
    const why = await unreadable(m.path, "directory");
    if (why) throw new PcoccError(`--mount '${m.tag}=${m.path}': cannot use it (${why})`);
  }
}

/** `--wait=ROLE` must name a template of the cluster (checked before SLURM is asked). */
export function checkGate(cluster: ClusterDefinition, gate: string): void {
  if (gate === "all" || cluster.vms.some((v) => v.template === gate)) return;
  const roles = [...new Set(cluster.vms.map((v) => v.template))].join(", ");
  throw new PcoccError(`--wait=${gate}: no VM of the cluster is of template '${gate}' (templates: ${roles})`);
}
