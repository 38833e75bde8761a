import { readFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * How the guest agent reaches a VM with no image change: the static binary rides on the NoCloud seed and
 * a `bootcmd` entry merged into the user's own #cloud-config copies it to /run and starts it.
 */

/** The virtio-serial port name the agent opens (guest: /dev/virtio-ports/<name>). */
export const AGENT_PORT_NAME = "org.pcocc.agent.0";
/** File name of the binary on the seed. */
export const AGENT_SEED_FILE = "pcocc-agent";

/** guest-agent/build/pcocc-agent, from src/agent (tests) and from dist/agent alike. */
export function agentBinaryPath(): string {
  return join(import.meta.dirname, "../../guest-agent/build/pcocc-agent");
}

export async function readAgentBinary(): Promise<Buffer | undefined> {
  return readFile(agentBinaryPath()).catch(() => undefined);
}

/**
 * The bootcmd entry. An image that ships pcocc-agent in /usr/sbin uses its own; otherwise the seed is
 * mounted (real cloud-init has unmounted it by bootcmd time), the binary copied to /run, and started
 * in its own session so bootcmd returns at once. Its log lines go to the console.
 */
export const AGENT_BOOTCMD =
  "a=/usr/sbin/pcocc-agent; if [ ! -x $a ]; then a=/run/pcocc/agent; s=/run/pcocc/seed; " +
  'mkdir -p $s && mount -o ro -t iso9660 "$(findfs LABEL=cidata)" $s && ' +
  `cp $s/${AGENT_SEED_FILE} $a && chmod 700 $a; umount $s; fi; ` +
  "[ -x $a ] && setsid $a </dev/null >/dev/console 2>&1 &";

export interface MergedUserData {
  userData: string;
  /** false: the user-data was left as it is and the VM gets no agent (see `note`). */
  agent: boolean;
  note?: string;
}

/**
 * Adds AGENT_BOOTCMD in front of the user's bootcmd list. Only #cloud-config (or no user-data) is
 * changed; a script, multipart, #include or any other format is kept byte for byte, without agent.
 */
export async function mergeAgentUserData(text: string): Promise<MergedUserData> {
  if (text.trim() === "")
    return { userData: `#cloud-config\nbootcmd:\n  - ${JSON.stringify(AGENT_BOOTCMD)}\n`, agent: true };
  const keep = (note: string): MergedUserData => ({ userData: text, agent: false, note });
  if (!/^#cloud-config[ \t]*\r?\n/.test(text))
    return keep("the user-data is not #cloud-config: it is kept as it is and the VM has no guest agent");
  const { isSeq, parseDocument } = await import("yaml");
  const doc = parseDocument(text);
  const value: unknown = doc.errors.length > 0 ? undefined : doc.toJS();
  if (doc.errors.length > 0 || (value !== null && (typeof value !== "object" || Array.isArray(value))))
    return keep(`the user-data is not a YAML mapping: it is kept as it is and the VM has no guest agent`);
  const current = doc.get("bootcmd", true);
  if (current === undefined || current === null) doc.set("bootcmd", doc.createNode([AGENT_BOOTCMD]));
  else if (isSeq(current)) current.items.unshift(doc.createNode(AGENT_BOOTCMD));
  else
    return keep("the user-data's bootcmd is not a list: it is kept as it is and the VM has no guest agent");
  return {
    userData: `#cloud-config\n${doc.toString({ lineWidth: 0 }).replace(/^#cloud-config[ \t]*\r?\n/, "")}`,
    agent: true,
  };
}
