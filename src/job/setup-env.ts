import { PcoccError } from "../util/index.js";
import {
  envValue,
  expandHostlist,
  MAX_NODES,
  parseUserName,
  requireEnv,
  tasksPerNodeFromEnv,
  uint32Env,
} from "./slurm-env.js";

/**
 * The environment the SPANK plugin (slurm-plugin/spank_pcocc.c, build_env) gives `pcocc internal setup
 * create|delete` as root. This table is the contract between the two; the plugin's C code points here.
 *
 * The job's shape comes from slurmstepd (spank_get_item), never from the step's environment alone: the
 * user controls that environment (their srun is theirs), so the host list and tasks per node it carries are
 * only accepted when they agree with what slurmstepd says.
 */
export const SETUP_ENV = {
  /** S_JOB_ID */
  jobId: "SLURM_JOB_ID",
  /** S_JOB_STEPID */
  stepId: "SLURM_STEP_ID",
  /** S_JOB_UID */
  uid: "SLURM_JOB_UID",
  /** S_JOB_GID */
  gid: "SLURM_JOB_GID",
  /** getpwuid_r(S_JOB_UID) */
  user: "SLURM_JOB_USER",
  /** S_JOB_NODEID: this node's rank in the step */
  nodeId: "SLURM_NODEID",
  /** S_JOB_NNODES: nodes of the step */
  nnodes: "SLURM_STEP_NUM_NODES",
  /** S_JOB_LOCAL_TASK_COUNT: tasks of the step on this node */
  localTasks: "PCOCC_STEP_LOCAL_TASKS",
  /** S_JOB_TOTAL_TASK_COUNT: tasks of the step */
  totalTasks: "PCOCC_STEP_TOTAL_TASKS",
  /** From the step's environment (syntax-checked by the plugin): cross-checked here. */
  nodeList: "SLURM_JOB_NODELIST",
  /** From the step's environment; the plugin also passes it as SLURM_TASKS_PER_NODE. */
  tasksPerNode: "SLURM_STEP_TASKS_PER_NODE",
  /** The --vm value (validated by the plugin). */
  definition: "SPANK_PCOCC_SETUP",
  /** The user's keystore credential (32 hex digits, validated by the plugin). */
  requestCred: "SPANK_PCOCC_REQUEST_CRED",
} as const;

/** Who and where, from slurmstepd: all that `setup delete` needs, so a forged step cannot block cleanup. */
export interface SetupIdentity {
  jobId: number;
  stepId: number;
  uid: number;
  gid: number;
  user: string;
  nodeRank: number;
  nnodes: number;
}

/** What `setup create` builds for: the identity and the step's shape, checked against each other. */
export interface SetupCreateJob extends SetupIdentity {
  nodes: string[];
  /** VMs (tasks) per node in node order. */
  vmsPerNode: number[];
  resourceDefinition: string;
  /** The user's requested keystore credential, granted on node rank 0. */
  requestCred?: string;
}

/** Largest valid uid/gid: (uid_t)-1 means "no id" to the kernel. */
const MAX_ID = 2 ** 32 - 2;

export function setupIdentityFromEnv(env: NodeJS.ProcessEnv): SetupIdentity {
  const uid = uint32Env(env, SETUP_ENV.uid, MAX_ID);
  if (uid === 0) throw new PcoccError(`${SETUP_ENV.uid}: refusing to set up a job for root`);
  const nnodes = uint32Env(env, SETUP_ENV.nnodes, MAX_NODES);
  if (nnodes === 0) throw new PcoccError(`${SETUP_ENV.nnodes}: a step has at least one node`);
  const nodeRank = uint32Env(env, SETUP_ENV.nodeId, MAX_NODES);
  if (nodeRank >= nnodes)
    throw new PcoccError(`${SETUP_ENV.nodeId} is ${nodeRank} but the step has ${nnodes} nodes`);
  return {
    jobId: uint32Env(env, SETUP_ENV.jobId),
    stepId: uint32Env(env, SETUP_ENV.stepId),
    uid,
    gid: uint32Env(env, SETUP_ENV.gid, MAX_ID),
    user: parseUserName(SETUP_ENV.user, requireEnv(env, SETUP_ENV.user, 32)),
    nodeRank,
    nnodes,
  };
}

export function setupCreateJobFromEnv(env: NodeJS.ProcessEnv): SetupCreateJob {
  const id = setupIdentityFromEnv(env);
  const nodes = expandHostlist(requireEnv(env, SETUP_ENV.nodeList), { name: SETUP_ENV.nodeList });
  const vmsPerNode = tasksPerNodeFromEnv(env);
  if (!vmsPerNode) throw new PcoccError(`${SETUP_ENV.tasksPerNode} is not set`);
  checkShape(id, nodes, vmsPerNode, {
    localTasks: uint32Env(env, SETUP_ENV.localTasks),
    totalTasks: uint32Env(env, SETUP_ENV.totalTasks),
  });
  const requestCred = envValue(env, SETUP_ENV.requestCred, 32);
  if (requestCred !== undefined && !/^[0-9a-f]{32}$/.test(requestCred))
    throw new PcoccError(`${SETUP_ENV.requestCred}: invalid credential`);
  return {
    ...id,
    nodes,
    vmsPerNode,
    resourceDefinition: requireEnv(env, SETUP_ENV.definition),
    requestCred,
  };
}

/** Refuses a host list or tasks per node that disagree with slurmstepd's counts. */
function checkShape(
  id: Pick<SetupIdentity, "nodeRank" | "nnodes">,
  nodes: string[],
  vmsPerNode: number[],
  stepd: { localTasks: number; totalTasks: number },
): void {
  const { nodeList, tasksPerNode, nnodes, localTasks, totalTasks } = SETUP_ENV;
  const refuse = (what: string, theirs: number, ours: number, source: string): never => {
    throw new PcoccError(`${what} is ${theirs} but slurmstepd says ${ours} (${source}): refusing the step`);
  };
  if (nodes.length !== id.nnodes) refuse(`the node count of ${nodeList}`, nodes.length, id.nnodes, nnodes);
  if (vmsPerNode.length !== id.nnodes)
    refuse(`the node count of ${tasksPerNode}`, vmsPerNode.length, id.nnodes, nnodes);
  const here = vmsPerNode[id.nodeRank]!;
  if (here !== stepd.localTasks)
    refuse(`this node's entry of ${tasksPerNode}`, here, stepd.localTasks, localTasks);
  const sum = vmsPerNode.reduce((a, b) => a + b, 0);
  if (sum !== stepd.totalTasks)
    refuse(`the task total of ${tasksPerNode}`, sum, stepd.totalTasks, totalTasks);
}
