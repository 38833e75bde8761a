/** The VM runtime: one QEMU per VM driven over QMP, its overlay, seed, console and saves. */
export { runHypervisor } from "./hypervisor.js";
export type { VmSpec, HypervisorState, HypervisorStateChange, VmTemplateSettings } from "./spec.js";
export { mountsFromTemplate, parseVmSpec } from "./spec.js";
export type { NicSpec, MountSpec, DiskModel, DiskCache, QemuPlan } from "./qemu-argv.js";
export { buildQemuArgv } from "./qemu-argv.js";
export { nodeCoreCount } from "./cpu-binding.js";
export { chooseAccelerator, probeAcceleratorHost } from "./accel.js";
export type { AcceleratorDecision, AcceleratorHost } from "./accel.js";
export { QmpClient, QmpError, QmpDisconnectedError } from "./qmp.js";
export type { QmpEvent, QmpGreeting } from "./qmp.js";
export { writeSeed, metaData } from "./seed.js";
export { buildIso9660 } from "./iso9660.js";
export { attachConsole, printConsoleLog, DetachDetector } from "./console-attach.js";
export { resetVm, monitorCommand, dumpMemory } from "./control.js";
export { saveRevision } from "./save.js";
export { pipeSpice, requireSpice, serveSpiceRelay } from "./display.js";
export type { SpiceRelay } from "./display.js";
export { freezeGuest, thawRestoredGuest } from "./guest-freeze.js";
export type { FrozenGuest, FreezeOptions } from "./guest-freeze.js";
export { checkpointVm, checkpointFiles, checkpointManifestPath } from "./checkpoint.js";
export type { CheckpointOptions, CheckpointManifest, CheckpointVmMeta } from "./checkpoint.js";
export type { SaveLayerOptions, SavedLayer, SaveRevisionOptions } from "./save.js";
export type { JobProgress } from "./block-job.js";
export { locateLocalVm, vmStatePaths, parseVmName, parseVmSet } from "./paths.js";
export {
  createJobStateDir,
  defaultVmStateDir,
  jobStateDir,
  jobStateDirIds,
  removeJobStateDir,
  VM_STATE_ROOT,
} from "./job-state.js";
export type { JobOwner } from "./job-state.js";
export type { VmEndpoint, VmInfo, VmStatePaths } from "./paths.js";
