/**
 * A template's `readiness:` checks: when a VM of it counts as up for `pcocc alloc/batch --wait`. One
 * parser for the config check (file, line, value) and for the launcher that runs them.
 *   ssh          something listens on port 22 in the guest
 *   tcp:PORT     something listens on PORT (1-65535) in the guest
 *   cloud-init   cloud-init finished (its boot-finished marker exists)
 *   exec:CMD     `sh -c CMD` run as root through the guest agent exits 0
 */
export type ReadinessCheck =
  | { kind: "tcp"; port: number; label: string }
  | { kind: "cloud-init"; label: string }
  | { kind: "exec"; command: string; label: string };

/** Seconds a VM gets to pass its checks unless its template says `readiness-timeout`. */
export const DEFAULT_READINESS_TIMEOUT_S = 600;

/** The check `text` names, or why it names none. */
export function parseReadinessCheck(text: string): ReadinessCheck | { error: string } {
  if (text === "ssh") return { kind: "tcp", port: 22, label: "ssh" };
  if (text === "cloud-init") return { kind: "cloud-init", label: "cloud-init" };
  if (text.startsWith("tcp:")) {
    const p = text.slice(4);
    if (!/^[0-9]{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535)
      return { error: `invalid port '${p}' (expected 1-65535)` };
    return { kind: "tcp", port: Number(p), label: text };
  }
  if (text.startsWith("exec:")) {
    const command = text.slice(5).trim();
    if (command === "") return { error: "exec: needs a command" };
    return { kind: "exec", command, label: text };
  }
  return { error: `unknown readiness check '${text}' (expected ssh, tcp:PORT, cloud-init or exec:COMMAND)` };
}
