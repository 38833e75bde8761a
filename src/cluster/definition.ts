import { defaultResourceSet, resolveTemplate, type PcoccConfig } from "../config/index.js";
import { PcoccError } from "../util/index.js";

/** Upper bound on a virtual cluster's size: far beyond any real allocation, low enough to keep lists small. */
export const MAX_CLUSTER_VMS = 100_000;

export interface ClusterVm {
  rank: number;
  /** `vm<rank>` */
  name: string;
  template: string;
  resourceSet: string;
}

export interface ClusterDefinition {
  vms: ClusterVm[];
  /** `rset:N,...`, one item per group of the definition, as sent to SLURM and the SPANK plugin. */
  resourceDefinition: string;
}

export interface ResourceRequest {
  resourceSet: string;
  count: number;
}

/**
 * `tpl`, `tpl:N`, `tplA:2,tplB:3` → vm0, vm1, ... in order. The last `:` separates the count, so a
 * repository-qualified image `repo:img` (no count) also works when it names an image template.
 */
export function parseClusterDefinition(def: string, config: PcoccConfig): ClusterDefinition {
  const fail = (why: string): never => {
    throw new PcoccError(`Unable to parse cluster definition: ${quote(def)}: ${why}`);
  };
  if (def === "") fail("it is empty");
  if (/\s/.test(def)) fail("it contains whitespace");
  const vms: ClusterVm[] = [];
  const groups: string[] = [];
  for (const item of def.split(",")) {
    if (item === "") fail("empty item (stray comma?)");
    const { template, count } = splitItem(item, config, fail);
    if (vms.length + count > MAX_CLUSTER_VMS) fail(`more than ${MAX_CLUSTER_VMS} VMs`);
    const resourceSet = resolveTemplate(config, template).settings["resource-set"];
    for (let i = 0; i < count; i++) {
      const rank = vms.length;
      vms.push({ rank, name: `vm${rank}`, template, resourceSet });
    }
    groups.push(`${resourceSet}:${count}`);
  }
  return { vms, resourceDefinition: groups.join(",") };
}

function splitItem(
  item: string,
  config: PcoccConfig,
  fail: (why: string) => never,
): { template: string; count: number } {
  const whole = findTemplate(item, config);
  if (whole) return { template: whole, count: 1 };
  const colon = item.lastIndexOf(":");
  const name = colon < 0 ? item : item.slice(0, colon);
  const countText = colon < 0 ? "1" : item.slice(colon + 1);
  if (name === "") fail(`missing template name in '${item}'`);
  if (!/^[0-9]+$/.test(countText) || Number(countText) < 1)
    fail(`invalid VM count '${countText}' for template '${name}' (expected a whole number of at least 1)`);
  const template = findTemplate(name, config);
  if (!template) return fail(`unknown template '${name}'`);
  return { template, count: Number(countText) };
}

/** A template by name, or the image template whose image is `repo:name` (pcocc only knew bare names). */
function findTemplate(name: string, config: PcoccConfig): string | undefined {
  if (Object.hasOwn(config.templates, name)) return name;
  if (!name.includes(":") || !defaultResourceSet(config)) return undefined;
  return Object.values(config.templates).find((t) => t.scope === "image" && t.settings.image === name)?.name;
}

const RESOURCE_ITEM = /^[A-Za-z][A-Za-z0-9_-]*:[1-9][0-9]{0,5}$/;
const MAX_RESOURCE_DEFINITION = 4096;

/**
 * Parses a resource definition such as `default:2,cluster:3`. This runs as root on values that came from users
 * (SPANK options, environment), so anything but the exact grammar is rejected and echoed back only escaped
 * and truncated.
 */
export function parseResourceDefinition(s: string): ResourceRequest[] {
  const fail = (why: string): never => {
    throw new PcoccError(`invalid resource definition ${quote(s)}: ${why}`);
  };
  if (typeof s !== "string" || s === "") fail("it is empty");
  if (s.length > MAX_RESOURCE_DEFINITION) fail(`longer than ${MAX_RESOURCE_DEFINITION} characters`);
  const out: ResourceRequest[] = [];
  let total = 0;
  for (const item of s.split(",")) {
    if (!RESOURCE_ITEM.test(item)) fail(`bad item ${quote(item)} (expected RSET:COUNT)`);
    const colon = item.lastIndexOf(":");
    const count = Number(item.slice(colon + 1));
    total += count;
    if (total > MAX_CLUSTER_VMS) fail(`more than ${MAX_CLUSTER_VMS} VMs`);
    out.push({ resourceSet: item.slice(0, colon), count });
  }
  return out;
}

function quote(s: unknown): string {
  const text = String(s);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text).replace(/^"|"$/g, "'");
}
