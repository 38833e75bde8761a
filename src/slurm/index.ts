/**
 * SLURM integration: the alloc/batch wrappers, the launcher that turns an allocation into a running virtual
 * cluster, the per-VM task side of `pcocc internal run`, job targeting, and the verbs that reach a running
 * cluster (ps, ssh/scp/nc, hopping to a VM's node for console/reset/save).
 */
export { alloc } from "./alloc.js";
export { batch } from "./batch.js";
export { runLauncher, type LauncherOptions } from "./launcher.js";
export { runVmTask } from "./vm-task.js";
export { listClusters, formatClusterTable, type ClusterRow } from "./ps.js";
export { formatStartBreakdown, startBreakdown, type StartBreakdown } from "./start-timing.js";
export { sshVm, scpVm, ncVm, runOnVmNode } from "./remote.js";
export { resolveJobTarget, DEFAULT_JOB_NAME, type JobTarget, type JobTargetOptions } from "./target.js";
export {
  openCluster,
  locateRank,
  ON_VM_NODE_ENV,
  type ClusterInfo,
  type VmLocation,
} from "./cluster-info.js";
export { placeVms, hopToNode, vmSet, type VmPlacement } from "./vm-placement.js";
export { liveJobIds } from "./commands.js";
export { parseIndices, parseTimeout, runInGuests, type GuestCommandOptions } from "./exec.js";
export { runInVms, type RunOptions } from "./run.js";
export { ptyForOneProcess } from "./guest-exec.js";
export { buildRunEnv, parseCount, placeProcesses } from "./run-placement.js";
export {
  agentAttach,
  agentFreeze,
  agentListExec,
  agentPing,
  agentWriteFile,
  parseExecId,
} from "./agent-verbs.js";
