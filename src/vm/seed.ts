import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { mergeAgentUserData, readAgentBinary, AGENT_SEED_FILE } from "../agent/index.js";
import {
  CLUSTER_FACTS_PATH,
  renderClusterFacts,
  substituteFacts,
  type ClusterFacts,
} from "../cluster/index.js";
import { PcoccError } from "../util/index.js";
import { buildIso9660, type IsoFile } from "./iso9660.js";

/** Where a VM's user-data comes from, in pcocc's order of precedence. */
export type UserDataSource =
  { kind: "file"; path: string } | { kind: "inline"; value: Record<string, unknown> } | { kind: "none" };

export interface SeedInput {
  hostname: string;
  instanceId?: string;
  userData: UserDataSource;
  /** Deliver the guest agent (binary on the seed, bootcmd merged into user-data). Default true. */
  agent?: boolean;
  /** The cluster facts: substituted into the user-data and written to CLUSTER_FACTS_PATH. */
  facts?: ClusterFacts;
}

export function metaData(input: { hostname: string; instanceId?: string }): string {
  const id = input.instanceId ?? randomUUID();
  return `instance-id: ${yamlScalar(id)}\nlocal-hostname: ${yamlScalar(input.hostname)}\n`;
}

/** Plain when safe (simple NoCloud readers split on ": "), double-quoted otherwise. */
function yamlScalar(v: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v) && !/^(true|false|null|yes|no|on|off|~)$/i.test(v)
    ? v
    : JSON.stringify(v);
}

export async function userData(source: UserDataSource): Promise<string> {
  switch (source.kind) {
    case "file":
      try {
        return await readFile(source.path, "utf8");
      } catch (err) {
        throw new PcoccError(`unable to read user-data file ${source.path}: ${(err as Error).message}`);
      }
    case "inline": {
      const { stringify } = await import("yaml");
      return `#cloud-config\n${stringify(source.value)}`;
    }
    case "none":
      return "";
  }
}

/**
 * `%{...}` substituted, then a `write_files` entry for the facts file (root, 0600) in front of the user's
 * own. Only #cloud-config (or no user-data) gets the file: other formats are the user's to keep whole.
 */
async function withFacts(ud: string, facts: ClusterFacts): Promise<{ userData: string; note?: string }> {
  const text = substituteFacts(ud, facts);
  const entry = {
    path: CLUSTER_FACTS_PATH,
    owner: "root:root",
    permissions: "0600",
    encoding: "b64",
    content: Buffer.from(renderClusterFacts(facts)).toString("base64"),
  };
  const { Document, isSeq, parseDocument } = await import("yaml");
  const none = `the user-data is not #cloud-config: ${CLUSTER_FACTS_PATH} is not written`;
  const empty = text.trim() === "";
  if (!empty && !/^#cloud-config[ \t]*\r?\n/.test(text)) return { userData: text, note: none };
  const doc = empty ? new Document({}) : parseDocument(text);
  const value: unknown = doc.errors.length > 0 ? undefined : doc.toJS();
  if (doc.errors.length > 0 || (value !== null && (typeof value !== "object" || Array.isArray(value))))
    return { userData: text, note: none };
  const current = doc.get("write_files", true);
  if (current === undefined || current === null) doc.set("write_files", doc.createNode([entry]));
  else if (isSeq(current)) current.items.unshift(doc.createNode(entry));
  else
    return {
      userData: text,
      note: `the user-data's write_files is not a list: ${CLUSTER_FACTS_PATH} is not written`,
    };
  return {
    userData: `#cloud-config\n${doc.toString({ lineWidth: 0 }).replace(/^#cloud-config[ \t]*\r?\n/, "")}`,
  };
}

/** The seed's agent file and the user-data that starts it, or why this VM has no agent. */
async function withAgent(ud: string): Promise<{ userData: string; files: IsoFile[]; agentNote?: string }> {
  const binary = await readAgentBinary();
  if (!binary)
    return { userData: ud, files: [], agentNote: "the guest agent is not built (make -C guest-agent)" };
  const merged = await mergeAgentUserData(ud);
  if (!merged.agent) return { userData: ud, files: [], agentNote: merged.note };
  return { userData: merged.userData, files: [{ name: AGENT_SEED_FILE, data: binary }] };
}

/**
 * Writes the NoCloud seed (ISO 9660 + Joliet, volume id `cidata`) and returns the two documents;
 * `agentNote` says why the VM gets no guest agent.
 */
export async function writeSeed(
  path: string,
  input: SeedInput,
): Promise<{ metaData: string; userData: string; agentNote?: string; factsNote?: string }> {
  const md = metaData(input);
  const facts = input.facts
    ? await withFacts(await userData(input.userData), input.facts)
    : { userData: await userData(input.userData) };
  const agent =
    input.agent === false ? { userData: facts.userData, files: [] } : await withAgent(facts.userData);
  const iso = buildIso9660(
    [
      { name: "meta-data", data: Buffer.from(md) },
      { name: "user-data", data: Buffer.from(agent.userData) },
      ...agent.files,
    ],
    "cidata",
  );
  await writeFile(path, iso, { mode: 0o600 });
  return {
    metaData: md,
    userData: agent.userData,
    agentNote: "agentNote" in agent ? agent.agentNote : undefined,
    factsNote: facts.note,
  };
}
