import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { PcoccError } from "../util/index.js";
import { buildIso9660 } from "./iso9660.js";

/** Where a VM's user-data comes from, in pcocc's order of precedence. */
export type UserDataSource =
  { kind: "file"; path: string } | { kind: "inline"; value: Record<string, unknown> } | { kind: "none" };

export interface SeedInput {
  hostname: string;
  instanceId?: string;
  userData: UserDataSource;
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

/** Writes the NoCloud seed (ISO 9660 + Joliet, volume id `cidata`) and returns the two documents. */
export async function writeSeed(
  path: string,
  input: SeedInput,
): Promise<{ metaData: string; userData: string }> {
  const md = metaData(input);
  const ud = await userData(input.userData);
  const iso = buildIso9660(
    [
      { name: "meta-data", data: Buffer.from(md) },
      { name: "user-data", data: Buffer.from(ud) },
    ],
    "cidata",
  );
  await writeFile(path, iso, { mode: 0o600 });
  return { metaData: md, userData: ud };
}
