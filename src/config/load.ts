import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError } from "../util/index.js";
import {
  NAME_PATTERN,
  NETWORK_TYPE_ALIASES,
  batchSchema,
  networkEntrySchema,
  networkSettingsSchemas,
  reposFileSchema,
  resourceSetSchema,
  templateSettingsSchema,
  type NetworkConfig,
  type ResourceSet,
} from "./schemas.js";
import { SYSTEM_FILES, USER_TEMPLATES_DIR, isYamlFile } from "./dirs.js";
import { SourceFile } from "./source.js";
import { SUPPORTED_NETWORK_TYPES, notSupported, unsupportedIssues } from "./support.js";
import { inheritanceChain } from "./templates.js";
import type { PcoccConfig, RepoConfig, TemplateEntry, Unsupported } from "./types.js";

const TEMPLATE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Reads every file afresh (see `loadConfig` for the cached path). */
export async function loadConfigFiles(opts: {
  systemDir: string;
  userDir: string;
  user: boolean;
}): Promise<PcoccConfig> {
  const { systemDir, userDir, user: withUser } = opts;

  const required = (f: string) => requiredFile(join(systemDir, f));
  const [batchSrc, networksSrc, resourcesSrc, sysTemplatesSrc, sysReposSrc] = await Promise.all(
    SYSTEM_FILES.map(required),
  );
  const userTemplateFiles = withUser
    ? [join(userDir, "templates.yaml"), ...(await yamlFilesIn(join(userDir, USER_TEMPLATES_DIR)))]
    : [];
  const [userReposSrc, ...userTemplateSrcs] = await Promise.all(
    (withUser ? [join(userDir, "repos.yaml"), ...userTemplateFiles] : []).map((f) => SourceFile.read(f)),
  );

  const unsupported: Unsupported = { networks: {} };
  const batch = batchSrc?.parsed ? batchSrc.check(batchSchema, orEmpty(batchSrc.data)) : undefined;
  if (batchSrc && batch?.type === "local")
    unsupported.batch = batchSrc.locate(["type"], notSupported("type local (a single host without SLURM)"));
  const networks = networksSrc?.parsed ? loadNetworks(networksSrc, unsupported) : undefined;
  const resourceSets = resourcesSrc?.parsed
    ? loadResourceSets(resourcesSrc, networksSrc?.parsed ? Object.keys(orEmpty(networksSrc.data)) : undefined)
    : {};

  const templateSources: Array<[SourceFile | undefined, "system" | "user"]> = [
    [sysTemplatesSrc, "system"],
    ...userTemplateSrcs.map((s): [SourceFile | undefined, "user"] => [s, "user"]),
  ];
  const templates: Record<string, TemplateEntry> = {};
  const templateFile = new Map<string, SourceFile>();
  for (const [src, scope] of templateSources) {
    if (src?.parsed) loadTemplates(src, scope, templates, templateFile);
  }
  checkTemplates(templates, templateFile, resourcesSrc?.parsed ? resourceSets : undefined);

  const { repos, cache } = loadRepos([
    [userReposSrc, "user"],
    [sysReposSrc, "system"],
  ]);

  const all = [
    batchSrc,
    networksSrc,
    resourcesSrc,
    sysTemplatesSrc,
    sysReposSrc,
    userReposSrc,
    ...userTemplateSrcs,
  ];
  const issues = all.flatMap((s) => s?.issues ?? []);
  if (issues.length || !batch || !networks) {
    // everything config check should say in one go, file by file, top to bottom
    const lines = [...issues, ...unsupportedIssues({ unsupported })];
    const files = all.map((s) => s?.file);
    throw new ConfigError(
      lines.sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file) || (a.line ?? 0) - (b.line ?? 0)),
    );
  }
  return {
    systemDir,
    userDir,
    batch,
    networks,
    resourceSets,
    templates,
    repos,
    ...(cache ? { cache } : {}),
    unsupported,
  };
}

async function requiredFile(file: string): Promise<SourceFile> {
  return (await SourceFile.read(file)) ?? SourceFile.missing(file);
}

async function yamlFilesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter(isYamlFile)
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** An empty (or all-comment) file reads as null: treat it as an empty mapping. */
function orEmpty(data: unknown): Record<string, unknown> {
  return data === null || data === undefined ? {} : (data as Record<string, unknown>);
}

function isMapping(src: SourceFile, data: unknown): data is Record<string, unknown> {
  if (data === null || data === undefined) return true;
  if (typeof data === "object" && !Array.isArray(data)) return true;
  src.issue([], `expected a mapping at the top level, got ${Array.isArray(data) ? "a list" : typeof data}`);
  return false;
}

function loadNetworks(src: SourceFile, unsupported: Unsupported): Record<string, NetworkConfig> | undefined {
  if (!isMapping(src, src.data)) return undefined;
  const networks: Record<string, NetworkConfig> = {};
  for (const [name, value] of Object.entries(orEmpty(src.data))) {
    if (!NAME_PATTERN.test(name))
      src.issue([name], "invalid network name (letter, then letters, digits, _ or -)");
    const entry = src.check(networkEntrySchema, value, [name]);
    if (!entry) continue;
    const type = NETWORK_TYPE_ALIASES[entry.type];
    if (!type) continue;
    const settings = src.check(networkSettingsSchemas[type], entry.settings, [name, "settings"]);
    if (settings) networks[name] = { name, type, settings } as NetworkConfig;
    if (settings && !SUPPORTED_NETWORK_TYPES.has(type))
      unsupported.networks[name] = src.locate(
        [name, "type"],
        notSupported(`network '${name}': type ${entry.type}`),
      );
  }
  return networks;
}

function loadResourceSets(src: SourceFile, networkNames: string[] | undefined): Record<string, ResourceSet> {
  const sets: Record<string, ResourceSet> = {};
  if (!isMapping(src, src.data)) return sets;
  let firstDefault: string | undefined;
  for (const [name, value] of Object.entries(orEmpty(src.data))) {
    if (!NAME_PATTERN.test(name))
      src.issue([name], "invalid resource set name (letter, then letters, digits, _ or -)");
    const rset = src.check(resourceSetSchema, value, [name]);
    if (!rset) continue;
    rset.networks.forEach((net, i) => {
      if (networkNames && !networkNames.includes(net))
        src.issue([name, "networks", i], `unknown network '${net}' (not defined in networks.yaml)`);
    });
    if (rset.default) {
      if (firstDefault)
        src.issue([name, "default"], `multiple default resource sets ('${firstDefault}' and '${name}')`);
      else firstDefault = name;
    }
    sets[name] = { ...rset, name };
  }
  return sets;
}

function loadTemplates(
  src: SourceFile,
  scope: "system" | "user",
  templates: Record<string, TemplateEntry>,
  templateFile: Map<string, SourceFile>,
): void {
  if (!isMapping(src, src.data)) return;
  for (const [name, value] of Object.entries(orEmpty(src.data))) {
    if (name.startsWith("_")) {
      src.issue([name], `template name '${name}' is restricted (starts with _)`);
      continue;
    }
    if (!TEMPLATE_NAME.test(name)) {
      src.issue(
        [name],
        `invalid template name '${name}' (letters, digits, '.', '_' or '-'; usable in a cluster definition)`,
      );
      continue;
    }
    // invalid templates keep their name too, so a clash with them is still reported
    const previous = templateFile.get(name);
    if (previous) {
      src.issue(
        [name],
        `template name '${name}' is already in use (defined in ${previous.file} and ${src.file})`,
      );
      continue;
    }
    templateFile.set(name, src);
    const settings = src.check(templateSettingsSchema, value ?? {}, [name]);
    if (!settings) continue;
    const imageLine = settings.image == null ? undefined : src.locate([name, "image"], "").line;
    templates[name] = { name, scope, file: src.file, settings, ...(imageLine ? { imageLine } : {}) };
  }
}

function checkTemplates(
  templates: Record<string, TemplateEntry>,
  templateFile: Map<string, SourceFile>,
  resourceSets: Record<string, ResourceSet> | undefined,
): void {
  const hasDefault = resourceSets && Object.values(resourceSets).some((r) => r.default);
  for (const name of Object.keys(templates)) {
    const src = templateFile.get(name);
    if (!src) continue;
    const { chain, error } = inheritanceChain(templates, name);
    if (error) {
      src.issue([name, "inherits"], error);
      continue;
    }
    if (!resourceSets) continue;
    // The nearest template mentioning resource-set decides; an explicit null means the default set.
    const setter = chain.find((t) => templates[t]?.settings["resource-set"] !== undefined);
    const rset = setter ? templates[setter]?.settings["resource-set"] : undefined;
    if (rset && !resourceSets[rset]) {
      // reported once, on the template that names it
      if (setter === name)
        src.issue([name, "resource-set"], `unknown resource set '${rset}' (not in resources.yaml)`);
    } else if (!rset && !hasDefault) {
      src.issue(
        [name],
        `template '${name}' has no 'resource-set' setting and there is no default resource set`,
      );
    }
  }
}

function loadRepos(sources: Array<[SourceFile | undefined, "system" | "user"]>): {
  repos: RepoConfig[];
  cache?: { path: string; file: string };
} {
  const repos: RepoConfig[] = [];
  let cache: { path: string; file: string } | undefined;
  for (const [src, scope] of sources) {
    if (!src?.parsed) continue;
    const parsed = src.check(reposFileSchema, orEmpty(src.data));
    if (!parsed) continue;
    parsed.repos.forEach((r, i) => {
      const dup = repos.find((o) => o.name === r.name);
      if (dup)
        src.issue(["repos", i, "name"], `Duplicate repository: ${r.name} (also defined in ${dup.file})`);
      else repos.push({ name: r.name, path: r.path, scope, file: src.file });
    });
    if (parsed.cache) {
      if (cache) src.issue(["cache"], `only a single cache may be configured (another is in ${cache.file})`);
      else cache = { path: parsed.cache.path, file: src.file };
    }
  }
  return { repos, ...(cache ? { cache } : {}) };
}
