import { PcoccError } from "../util/index.js";
import type { SetupJob } from "./setup.js";

/**
 * The environment the SPANK plugin hands to `pcocc internal setup create|delete` (root). Every value is
 * hostile until checked: strict formats, bounded sizes, consistent with each other.
 */
const MAX_NODES = 4096;
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;

function need(env: NodeJS.ProcessEnv, key: string, maxLen = 4096): string {
  const v = env[key];
  if (v === undefined || v === "") throw new PcoccError(`${key} is not set`);
  if (v.length > maxLen) throw new PcoccError(`${key} is too long`);
  return v;
}

function int(env: NodeJS.ProcessEnv, key: string, max: number): number {
  const v = need(env, key, 12);
  if (!/^(0|[1-9][0-9]*)$/.test(v) || Number(v) > max) throw new PcoccError(`${key}: invalid value '${v}'`);
  return Number(v);
}

/** SLURM host lists: `node[1-3,07-09],gpu1`. */
export function expandNodeList(list: string): string[] {
  const out: string[] = [];
  const items = list.match(/[^,[]+(\[[^\]]*\])?[^,[]*/g);
  if (!items || items.join(",") !== list) throw new PcoccError(`invalid node list '${list.slice(0, 80)}'`);
  for (const item of items) {
    const m = /^([^[\]]*)(?:\[([^\]]+)\])?([^[\]]*)$/.exec(item);
    if (!m) throw new PcoccError(`invalid node list item '${item}'`);
    const [, head, ranges, tail] = m;
    if (ranges === undefined) out.push(item);
    else
      for (const r of ranges.split(",")) {
        const rm = /^([0-9]+)(?:-([0-9]+))?$/.exec(r);
        if (!rm) throw new PcoccError(`invalid range '${r}' in node list`);
        const lo = Number(rm[1]);
        const hi = rm[2] === undefined ? lo : Number(rm[2]);
        if (hi < lo || hi - lo >= MAX_NODES) throw new PcoccError(`invalid range '${r}' in node list`);
        for (let i = lo; i <= hi; i++) {
          out.push(`${head}${String(i).padStart(rm[1]!.length, "0")}${tail}`);
          if (out.length > MAX_NODES) throw new PcoccError("node list is too long");
        }
      }
  }
  for (const n of out) if (!NODE_NAME.test(n)) throw new PcoccError(`invalid node name '${n.slice(0, 80)}'`);
  if (new Set(out).size !== out.length) throw new PcoccError("node list names a node twice");
  return out;
}

/** `2(x3),1` → [2, 2, 2, 1]. */
export function expandTasksPerNode(value: string): number[] {
  const out: number[] = [];
  for (const item of value.split(",")) {
    const m = /^([0-9]{1,5})(?:\(x([0-9]{1,5})\))?$/.exec(item);
    if (!m) throw new PcoccError(`invalid tasks per node '${value.slice(0, 80)}'`);
    const times = m[2] === undefined ? 1 : Number(m[2]);
    if (out.length + times > MAX_NODES) throw new PcoccError("tasks per node list is too long");
    for (let i = 0; i < times; i++) out.push(Number(m[1]));
  }
  return out;
}

export function jobFromEnv(env: NodeJS.ProcessEnv, action: "create" | "delete"): SetupJob {
  const jobId = int(env, "SLURM_JOB_ID", 2 ** 32 - 1);
  const uid = int(env, "SLURM_JOB_UID", 2 ** 32 - 2);
  if (uid === 0) throw new PcoccError("SLURM_JOB_UID: refusing to set up a job for root");
  const user = need(env, "SLURM_JOB_USER", 32);
  if (!USER.test(user)) throw new PcoccError(`SLURM_JOB_USER: invalid user name '${user}'`);
  const nodes = expandNodeList(need(env, "SLURM_JOB_NODELIST", 65536));
  const nodeRank = int(env, "SLURM_NODEID", MAX_NODES);
  if (nodeRank >= nodes.length) throw new PcoccError(`SLURM_NODEID ${nodeRank} is not in SLURM_JOB_NODELIST`);
  if (action === "delete")
    return { jobId, uid, user, nodes, nodeRank, vmsPerNode: [], resourceDefinition: "" };
  const tasks = env.SLURM_STEP_TASKS_PER_NODE ? "SLURM_STEP_TASKS_PER_NODE" : "SLURM_TASKS_PER_NODE";
  const vmsPerNode = expandTasksPerNode(need(env, tasks, 65536));
  if (vmsPerNode.length !== nodes.length)
    throw new PcoccError(
      `${tasks} lists ${vmsPerNode.length} nodes but SLURM_JOB_NODELIST has ${nodes.length}`,
    );
  const resourceDefinition = need(env, "SPANK_PCOCC_SETUP", 65536);
  const cred = env.SPANK_PCOCC_REQUEST_CRED;
  if (cred !== undefined && !/^[0-9a-f]{32}$/.test(cred))
    throw new PcoccError("SPANK_PCOCC_REQUEST_CRED: invalid credential");
  return { jobId, uid, user, nodes, nodeRank, vmsPerNode, resourceDefinition, requestCred: cred };
}
