/**
 * The host side of the guest agent: its wire protocol, a client over the VM's virtio-serial socket, the
 * QEMU arguments of that port, and how the agent is delivered on the NoCloud seed.
 */
export {
  AGENT_BOOTCMD,
  AGENT_PORT_NAME,
  AGENT_SEED_FILE,
  agentBinaryPath,
  mergeAgentUserData,
  readAgentBinary,
} from "./delivery.js";
export type { MergedUserData } from "./delivery.js";
export { agentQemuArgs } from "./qemu-args.js";
export { AgentClient, AgentError, AgentTimeoutError, connectAgent } from "./client.js";
export type { AgentExec, ExecOptions, ExecResult, PingResult } from "./client.js";
export { PROTOCOL_VERSION } from "./protocol.js";
export type { ExecEntry } from "./protocol.js";
