import { readdir } from "node:fs/promises";
import type { PcoccConfig } from "../config/index.js";
import { listLinks, nft, runOps } from "./native.js";
import { LINK_KINDS, netViews, type LinkKind, type NetView } from "./net-view.js";
import { deleteBridge, listBridges } from "./ovs.js";
import { OvsdbClient } from "./ovsdb.js";
import type { JobRecord } from "./plan.js";

export interface Strays {
  links: string[];
  bridges: string[];
  netns: string[];
  tables: string[];
}

/**
 * Objects that look like a job's (pcocc's names) but that no kept record lists: leftovers of jobs that
 * crashed before writing a record or whose records were lost (e.g. /run wiped). Pure.
 */
export function selectStrays(
  nets: Array<Pick<NetView, "linkBase">>,
  keep: JobRecord[],
  live: Set<number>,
  found: Strays,
): Strays {
  const kept = new Set(keep.flatMap((r) => [...r.links, ...r.bridges, ...r.netns, ...r.nftTables]));
  const keptJobs = new Set([...live, ...keep.map((r) => r.jobId)]);
  // Configured prefixes are letters, digits and _ (the schemas check it): nothing to escape.
  const namesOf = (kinds: readonly LinkKind[]): RegExp =>
    new RegExp(`^(${nets.flatMap((n) => kinds.map((k) => n.linkBase(k))).join("|")})[0-9]+$`);
  const linkRe = namesOf(LINK_KINDS.filter((k) => k !== "br"));
  const bridgeRe = namesOf(["br"]);
  const jobOf = (re: RegExp, name: string): number | undefined => {
    const m = re.exec(name);
    return m ? Number(m[1]) : undefined;
  };
  const deadJob = (id: number | undefined): boolean => id !== undefined && !keptJobs.has(id);
  return {
    links: nets.length ? found.links.filter((l) => linkRe.test(l) && !kept.has(l)) : [],
    bridges: nets.length ? found.bridges.filter((b) => bridgeRe.test(b) && !kept.has(b)) : [],
    netns: found.netns.filter((n) => !kept.has(n) && deadJob(jobOf(/^pcocc_j([0-9]+)n[0-9]+_/, n))),
    tables: found.tables.filter((t) => !kept.has(t) && deadJob(jobOf(/^pcocc_j([0-9]+)$/, t))),
  };
}

async function tables(): Promise<string[]> {
  const out = await nft({ nftables: [{ list: { tables: { family: "ip" } } }] });
  if (!out.trim()) return [];
  const doc = JSON.parse(out) as { nftables: Array<{ table?: { name: string } }> };
  return doc.nftables.flatMap((e) => (e.table ? [e.table.name] : []));
}

/** Finds and removes strays on this node; returns what was removed. */
export async function sweepStrays(
  config: PcoccConfig,
  keep: JobRecord[],
  live: Set<number>,
  ovsdbSocket: string,
): Promise<Strays> {
  const nets = netViews(config.networks);
  let ovs: OvsdbClient | undefined;
  try {
    ovs = await OvsdbClient.open(ovsdbSocket);
  } catch {
    // No Open vSwitch running here: no bridge can be left over in it.
  }
  try {
    const found: Strays = {
      links: (await listLinks()).map((l) => l.name),
      bridges: ovs ? (await listBridges(ovs)).map((b) => b.name) : [],
      netns: await readdir("/run/netns").catch(() => []),
      tables: await tables(),
    };
    const s = selectStrays(nets, keep, live, found);
    for (const b of s.bridges) await deleteBridge(ovs!, b, { wait: true });
    if (s.tables.length)
      await nft({ nftables: s.tables.map((name) => ({ delete: { table: { family: "ip", name } } })) });
    await runOps([
      ...s.links.map((name) => ({ op: "linkDel" as const, name, ifExists: true })),
      ...s.netns.map((name) => ({ op: "netnsDel" as const, name, ifExists: true })),
    ]);
    return s;
  } finally {
    ovs?.close();
  }
}
