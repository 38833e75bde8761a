/**
 * The keystore: pcocc's shared state in etcd v3. Key layout and lease model: see ./layout.ts.
 */
export { Keystore } from "./client.js";
export type { Entry, Following, LeaseKeeper, PutItem, Snapshot } from "./client.js";
export { openKeystore, endpointsOf } from "./open.js";
export type { KeystoreConfig, OpenKeystoreOptions } from "./open.js";
export { ensureUserPassword, readRootPassword, readUserPassword, isValidCredential } from "./credentials.js";
export { ensureUserRole, roleName } from "./roles.js";
export { beginJob, joinJob, endJob } from "./jobs.js";
export type { JobHandle } from "./jobs.js";
export { claimDrives } from "./drive-locks.js";
export type { DriveClaim, DriveLocks } from "./drive-locks.js";
export { IdAllocator, pickFreeIds, pickRandomFreeIds } from "./id-allocator.js";
export type { IdOwner } from "./id-allocator.js";
export {
  HOST_STATES,
  VM_STATES,
  vmState,
  putHostState,
  putVmState,
  watchHostStates,
  watchVmStates,
} from "./states.js";
export type { HostState, HostStateName, VmState, VmStateName } from "./states.js";
export { PhaseClock, putLauncherTiming, readStartTiming } from "./timing.js";
export type { PhaseTimes, StartTiming } from "./timing.js";
export {
  globalKey,
  globalUserJobPrefix,
  clusterPrefix,
  clusterUserPrefix,
  leaseRecordKey,
  hostStateKey,
  vmStateKey,
  netRecordSubKey,
  rnatSubKey,
  checkJobId,
  checkUserName,
  checkRecord,
  recordOrUndefined,
  CLUSTER_DESCRIPTION,
  NODE_NET_RECORD,
  RNAT_PORT,
  JOB_SECRET,
  JOB_SECRET_SUBKEY,
  READINESS_STATE,
  readinessSubKey,
} from "./layout.js";
export type { NodeNetRecord, ReadinessState, RecordFormat, VmNic } from "./layout.js";
