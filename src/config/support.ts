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
  return [...(u.batch ? [u.batch] : []), ...Object.values(u.networks), ...Object.values(u.templateImages)];
}

/**
 * What stops a cluster of these templates from running here, checked before SLURM is asked. A template whose
 * image is replaced (`--image`) does not need its directory image.
 */
export function launchBlockers(
  config: PcoccConfig,
  templates: Iterable<string>,
  imageOverridden: (template: string) => boolean = () => false,
): ConfigIssue[] {
  const found = new Set<ConfigIssue>();
  if (config.unsupported.batch) found.add(config.unsupported.batch);
  for (const name of new Set(templates)) {
    const t = resolveTemplate(config, name);
    for (const net of config.resourceSets[t.settings["resource-set"]]?.networks ?? []) {
      const issue = config.unsupported.networks[net];
      if (issue) found.add(issue);
    }
    const imageFrom = t.origins.image;
    const dirImage = imageFrom === undefined ? undefined : config.unsupported.templateImages[imageFrom];
    if (dirImage && !imageOverridden(name)) found.add(dirImage);
  }
  return [...found];
}
