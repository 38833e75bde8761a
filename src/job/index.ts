/**
 * A job as its processes see it, one owner per contract between them: the SLURM environment of a step
 * (parsed the same way by the user's launcher and tasks and by root's setup, which cross-checks it against
 * slurmstepd), and the root side of the job's life in the keystore.
 */
export {
  MAX_NODES,
  envValue,
  parseUint32,
  uint32Env,
  expandHostlist,
  expandTasksPerNode,
  tasksPerNodeFromEnv,
} from "./slurm-env.js";
export { SETUP_ENV, setupIdentityFromEnv, setupCreateJobFromEnv } from "./setup-env.js";
export type { SetupIdentity, SetupCreateJob } from "./setup-env.js";
export { beginJobOnNode, endJobOnNode } from "./lifecycle.js";
export type { LifecycleOptions } from "./lifecycle.js";
export {
  decodeLaunchRequest,
  decodeLauncherReport,
  decodeTaskEnv,
  encodeLaunchRequest,
  encodeLauncherReport,
  encodeTaskEnv,
  LAUNCHER_VERB,
  TASK_HANDOVER_ENV,
  withoutTaskHandover,
  type LaunchRequest,
  type LauncherReport,
  type ProcessRef,
  type TaskHandover,
} from "./task-handover.js";
