/**
 * The host side of the guest agent: its wire protocol, a client over the VM's virtio-serial socket, and
 * how the agent is delivered on the NoCloud seed. The QEMU side of the port is vm's agentPortArgs
 * (AGENT_PORT_NAME is the contract between the two), held by mux.ts in the hypervisor for any number of
 * host clients; relay.ts carries agent streams across nodes.
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
export { AgentClient, AgentError, AgentTimeoutError, agentHandshake, connectAgent } from "./client.js";
export { AgentMux } from "./mux.js";
export { RelayLink, serveRelay } from "./relay.js";
export type { RelayTarget } from "./relay.js";
export type { AgentExec, AttachOptions, ExecOptions, ExecResult, PingResult } from "./client.js";
export { PROTOCOL_VERSION } from "./protocol.js";
export type { ExecEntry } from "./protocol.js";
