/** Configuration: pcocc's YAML files loaded, validated (every problem located) and resolved. */
export { loadConfig, type LoadOptions } from "./cache.js";
export { defaultSystemDir, defaultUserDir } from "./dirs.js";
export { expandPath, type PathContext } from "./paths.js";
export {
  resolveTemplate,
  addImageTemplates,
  defaultResourceSet,
  DEFAULT_KERNEL_ARGS,
  type HeritableKey,
  type MountPoint,
  type PersistentDrive,
  type ResolvedSettings,
  type ResolvedTemplate,
} from "./templates.js";
export { parseCidr, parseIPv4, type Cidr } from "./netaddr.js";
export { defaultEthernetSettings } from "./schemas.js";
export type * from "./types.js";
export { SUPPORTED_NETWORK_TYPES, launchBlockers, unsupportedIssues } from "./support.js";
export { parseReadinessCheck, DEFAULT_READINESS_TIMEOUT_S, type ReadinessCheck } from "./readiness.js";
