import { PcoccError } from "../util/index.js";

/**
 * Host index of every VM rank under block distribution (pcocc forces `SLURM_DISTRIBUTION=block:block`):
 * the first node's tasks take the lowest ranks.
 */
export function buildRankMap(tasksPerNode: number[], vmCount?: number): number[] {
  const map: number[] = [];
  tasksPerNode.forEach((tasks, node) => {
    for (let i = 0; i < tasks; i++) map.push(node);
  });
  if (vmCount !== undefined && map.length !== vmCount) {
    throw new PcoccError(
      `the allocation has ${map.length} tasks but the cluster definition has ${vmCount} VMs (one task per VM)`,
    );
  }
  return map;
}
