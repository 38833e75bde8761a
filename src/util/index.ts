/** Leaf helpers every other folder may use: errors, logging, stream framing, tables, /proc. */
export { ConfigError, PcoccError, formatConfigIssue, type ConfigIssue } from "./errors.js";
export { getVerbosity, log, setVerbosity } from "./log.js";
export { JsonValueSplitter } from "./json-stream.js";
export { formatTable } from "./table.js";
export { parentPid, processStartTime } from "./proc.js";
export { exitStatus } from "./exit-status.js";
export { progressLine, type ProgressLine } from "./progress.js";
export { nativeAddon } from "./native-addon.js";
export {
  NODE_LOG_DIR,
  createHypervisorLog,
  hypervisorLogPath,
  hypervisorLogger,
  sealHypervisorLog,
  setupLogPath,
  setupLogger,
} from "./node-log.js";
