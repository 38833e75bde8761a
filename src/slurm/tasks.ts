import { PcoccError } from "../util/index.js";

/** `SLURM_TASKS_PER_NODE` (`2(x3),1`) → tasks on each allocated node, in node order. */
export function parseTasksPerNode(value: string): number[] {
  const counts: number[] = [];
  for (const part of value.split(",")) {
    const m = /^(\d+)(?:\(x(\d+)\))?$/.exec(part.trim());
    if (!m) throw new PcoccError(`invalid SLURM_TASKS_PER_NODE: '${value}'`);
    const tasks = Number(m[1]);
    const repeat = m[2] === undefined ? 1 : Number(m[2]);
    for (let i = 0; i < repeat; i++) counts.push(tasks);
  }
  return counts;
}

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
