import { loadConfig, resolveTemplate, type HeritableKey, type PcoccConfig } from "../config/index.js";
import { formatTable } from "../util/index.js";

interface TemplateRow {
  name: string;
  scope: "user" | "system";
  description: string;
  resources: string;
  image: string | null;
  /** Only for a recipe's template. */
  recipe?: string;
}

function rows(config: PcoccConfig): TemplateRow[] {
  const out: TemplateRow[] = [];
  for (const entry of Object.values(config.templates)) {
    if (entry.scope === "image") continue;
    const t = resolveTemplate(config, entry.name);
    out.push({
      name: t.name,
      scope: entry.scope,
      description: t.description,
      resources: t.settings["resource-set"],
      image: t.settings.image,
      ...(t.recipe ? { recipe: t.recipe } : {}),
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function templateList(opts: { json?: boolean }): Promise<string> {
  const all = rows(await loadConfig());
  if (opts.json) return JSON.stringify(all, null, 2) + "\n";
  const table = (scope: TemplateRow["scope"]) =>
    formatTable(
      ["NAME", "DESCRIPTION", "RESOURCES", "IMAGE"],
      all
        .filter((r) => r.scope === scope && !r.recipe)
        .map((r) => [r.name, r.description, r.resources, r.image ?? ""]),
    );
  const recipes = all.filter((r) => r.recipe);
  const recipeTable = recipes.length
    ? `\nRecipes:\n${formatTable(
        ["NAME", "RECIPE", "DESCRIPTION"],
        recipes.map((r) => [r.name, r.recipe!, r.description]),
      )}`
    : "";
  return `User templates:\n${table("user")}\nSystem templates:\n${table("system")}${recipeTable}`;
}

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The revision a VM of this template would boot, or null (no image, or none found). */
async function imageRevision(
  config: PcoccConfig,
  image: string | null,
): Promise<{ revision: number; timestamp: number } | null> {
  if (!image) return null;
  const { resolveImage } = await import("../image/index.js");
  try {
    const resolved = await resolveImage(config, image);
    return { revision: resolved.revision, timestamp: resolved.meta.timestamp };
  } catch {
    return null;
  }
}

/** pcocc's `image-revision` row: `REV (date)`, or N/A. */
function showRevision(r: { revision: number; timestamp: number } | null): string {
  return r ? `${r.revision} (${new Date(r.timestamp * 1000).toISOString()})` : "N/A";
}

interface Attribute {
  attribute: string;
  inherited: boolean;
  /** The template that sets it; null for values no template sets (the default resource set, the revision). */
  from: string | null;
  value: unknown;
}

export async function templateShow(name: string, opts: { json?: boolean }): Promise<string> {
  const { loadConfigWithImages } = await import("../image/index.js");
  const config = await loadConfigWithImages();
  const t = resolveTemplate(config, name);
  const attributes: Attribute[] = [];
  if (t.description)
    attributes.push({ attribute: "description", inherited: false, from: t.name, value: t.description });
  if (t.inherits)
    attributes.push({ attribute: "inherits", inherited: false, from: t.name, value: t.inherits });
  for (const [key, from] of Object.entries(t.origins) as Array<[HeritableKey, string]>) {
    attributes.push({ attribute: key, inherited: from !== t.name, from, value: t.settings[key] });
  }
  if (!t.origins["resource-set"])
    attributes.push({
      attribute: "resource-set",
      inherited: false,
      from: null,
      value: t.settings["resource-set"],
    });
  const revision = await imageRevision(config, t.settings.image);
  attributes.push({ attribute: "image-revision", inherited: false, from: null, value: revision });
  if (opts.json)
    return JSON.stringify({ name: t.name, scope: t.scope, file: t.file, attributes }, null, 2) + "\n";
  return formatTable(
    ["ATTRIBUTE", "INHERITED", "VALUE"],
    attributes.map((a) => [
      a.attribute,
      a.inherited ? `Yes (${a.from})` : "No",
      a.attribute === "image-revision" ? showRevision(revision) : show(a.value),
    ]),
  );
}
