import type { ConfigIssue } from "../util/index.js";
import type { NetworkType } from "./schemas.js";
import { resolveTemplate } from "./templates.js";
import type { PcoccConfig } from "./types.js";

/**
 * Network types the node setup can build (pcocc's deprecated nat and pv on the ethernet machinery). The
 * others load (they are valid pcocc) but cannot run on this installation: no InfiniBand or PCI devices to
 * hand out, no host bridge.
 */
export const SUPPORTED_NETWORK_TYPES: ReadonlySet<NetworkType> = new Set<NetworkType>([
  "ethernet",
  "nat",
  "pv",
]);

export const notSupported = (what: string): string => `${what} is not supported by this installation`;

/** Every entry, for `config check`. */
export function unsupportedIssues(config: Pick<PcoccConfig, "unsupported">): ConfigIssue[] {
  const u = config.unsupported;
  return [...(u.batch ? [u.batch] : []), ...Object.values(u.networks)];
}

/** What stops a cluster of these templates from running here, checked before SLURM is asked. */
export function launchBlockers(config: PcoccConfig, templates: Iterable<string>): ConfigIssue[] {
  const found = new Set<ConfigIssue>();
  if (config.unsupported.batch) found.add(config.unsupported.batch);
  for (const name of new Set(templates)) {
    const t = resolveTemplate(config, name);
    for (const net of config.resourceSets[t.settings["resource-set"]]?.networks ?? []) {
      const issue = config.unsupported.networks[net];
      if (issue) found.add(issue);
    }
  }
  return [...found];
}
