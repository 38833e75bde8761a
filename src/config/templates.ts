import { PcoccError } from "../util/index.js";
import { DEFAULT_READINESS_TIMEOUT_S } from "./readiness.js";
import type { TemplateSettingKey, TemplateSettings } from "./schemas.js";
import type { PcoccConfig, TemplateEntry, TemplateScope } from "./types.js";

export type HeritableKey = Exclude<TemplateSettingKey, "inherits" | "description" | "recipe">;

export interface MountPoint {
  path: string;
  readonly: boolean;
  type: "virtio-9p" | "virtio-fs";
}

export interface PersistentDrive {
  path: string;
  mmp: "yes" | "no" | "cluster";
  cache: "writeback" | "none" | "unsafe" | "writethrough" | "directsync";
  backup: string | null;
}

/** Every heritable setting with its default applied and its shape normalised. */
export interface ResolvedSettings {
  image: string | null;
  "resource-set": string;
  "user-data": string | Record<string, unknown> | null;
  "instance-id": string | null;
  "mount-points": Record<string, MountPoint>;
  "custom-args": string[];
  "qemu-bin": string;
  "nic-model": string;
  "machine-type": string;
  "cpu-model": string | null;
  "disk-model": "virtio" | "virtio-scsi" | "ide";
  "disk-cache": "writeback" | "none" | "unsafe" | "writethrough" | "directsync";
  "emulator-cores": number;
  "bind-vcpus": boolean;
  "full-node": boolean;
  "persistent-drives": PersistentDrive[];
  "remote-display": "spice" | null;
  kernel: string | null;
  initrd: string | null;
  "kernel-args": string;
  accelerator: "auto" | "kvm" | "tcg";
  /** `readiness:` checks as written (see readiness.ts). */
  readiness: string[];
  "readiness-timeout": number;
}

export interface ResolvedTemplate {
  name: string;
  scope: TemplateScope;
  file: string;
  /** Not inherited (as in pcocc). */
  description: string;
  /** The recipe the template belongs to (not inherited either). */
  recipe: string | null;
  inherits: string | null;
  settings: ResolvedSettings;
  /** Template that set each non-default setting; a key that is absent holds its default. */
  origins: Partial<Record<HeritableKey, string>>;
}

export const DEFAULT_KERNEL_ARGS = "console=ttyS0 root=/dev/vda";

const DEFAULTS: Omit<ResolvedSettings, "resource-set"> = {
  image: null,
  "user-data": null,
  "instance-id": null,
  "mount-points": {},
  "custom-args": [],
  "qemu-bin": "qemu-system-x86_64",
  "nic-model": "virtio-net",
  "machine-type": "pc",
  "cpu-model": null,
  "disk-model": "virtio",
  "disk-cache": "unsafe",
  "emulator-cores": 0,
  "bind-vcpus": true,
  "full-node": false,
  "persistent-drives": [],
  "remote-display": null,
  kernel: null,
  initrd: null,
  "kernel-args": DEFAULT_KERNEL_ARGS,
  accelerator: "auto",
  readiness: [],
  "readiness-timeout": DEFAULT_READINESS_TIMEOUT_S,
};

const HERITABLE_KEYS = ["resource-set", ...Object.keys(DEFAULTS)] as HeritableKey[];

export function defaultResourceSet(config: Pick<PcoccConfig, "resourceSets">): string | undefined {
  return Object.values(config.resourceSets).find((r) => r.default)?.name;
}

/** The chain `[name, parent, grandparent, ...]`, or a description of why it is broken. */
export function inheritanceChain(
  templates: Record<string, Pick<TemplateEntry, "settings">>,
  name: string,
): { chain: string[]; error?: string } {
  const chain: string[] = [];
  let current: string | null | undefined = name;
  while (current) {
    if (chain.includes(current))
      return { chain, error: `inheritance loop: ${[...chain, current].join(" -> ")}` };
    const entry: Pick<TemplateEntry, "settings"> | undefined = templates[current];
    if (!entry) {
      const child = chain[chain.length - 1];
      return { chain, error: `template '${child ?? name}' inherits from invalid template '${current}'` };
    }
    chain.push(current);
    current = entry.settings.inherits;
  }
  return { chain };
}

/** Applies `inherits`: the nearest template that mentions a key wins, an explicit null meaning "default". */
export function resolveTemplate(config: PcoccConfig, name: string): ResolvedTemplate {
  const entry = config.templates[name];
  if (!entry) throw new PcoccError(`Template not found: ${name}`);
  const { chain, error } = inheritanceChain(config.templates, name);
  if (error) throw new PcoccError(`template '${name}': ${error}`);

  const origins: Partial<Record<HeritableKey, string>> = {};
  const raw: Partial<Record<HeritableKey, unknown>> = {};
  for (const key of HERITABLE_KEYS) {
    for (const tpl of chain) {
      const settings = config.templates[tpl]?.settings as Record<string, unknown> | undefined;
      if (!settings || !(key in settings)) continue;
      const value = settings[key];
      // `image: false` is pcocc's "no image"; any other false (bind-vcpus: false) is a value like true
      if (value !== null && value !== undefined && !(key === "image" && value === false)) {
        raw[key] = value;
        origins[key] = tpl;
      }
      break;
    }
  }

  const rset = (raw["resource-set"] as string | undefined) ?? defaultResourceSet(config);
  if (!rset)
    throw new PcoccError(
      `template '${name}' has no 'resource-set' setting and there is no default resource set`,
    );
  const settings = { ...DEFAULTS, ...raw, "resource-set": rset } as ResolvedSettings;
  settings["mount-points"] = normaliseMounts(raw["mount-points"] as TemplateSettings["mount-points"]);
  settings["persistent-drives"] = normaliseDrives(
    raw["persistent-drives"] as TemplateSettings["persistent-drives"],
  );
  return {
    name,
    scope: entry.scope,
    file: entry.file,
    description: entry.settings.description ?? "",
    recipe: entry.settings.recipe ?? null,
    inherits: entry.settings.inherits ?? null,
    settings,
    origins,
  };
}

function normaliseMounts(mounts: TemplateSettings["mount-points"]): Record<string, MountPoint> {
  const out: Record<string, MountPoint> = {};
  for (const [tag, m] of Object.entries(mounts ?? {})) {
    out[tag] =
      typeof m === "string"
        ? { path: m, readonly: false, type: "virtio-9p" }
        : { path: m.path, readonly: m.readonly ?? false, type: m.type ?? "virtio-9p" };
  }
  return out;
}

function normaliseDrives(drives: TemplateSettings["persistent-drives"]): PersistentDrive[] {
  const out: PersistentDrive[] = [];
  for (const d of drives ?? []) {
    if (typeof d === "string") {
      out.push({ path: d, mmp: "yes", cache: "writeback", backup: null });
      continue;
    }
    for (const [path, opts] of Object.entries(d)) {
      const mmp = opts?.mmp;
      out.push({
        path,
        mmp: mmp === undefined || mmp === true ? "yes" : mmp === false ? "no" : mmp,
        cache: opts?.cache ?? "writeback",
        backup: opts?.backup ?? null,
      });
    }
  }
  return out;
}

/**
 * Hook for the image module: registers a template `{image: "REPO:NAME"}` for every repository image that has no
 * template of its own, so `pcocc alloc myimage:2` works. Earlier entries win (pass user repositories first).
 * Does nothing without a default resource set, as in pcocc.
 */
export function addImageTemplates(
  config: PcoccConfig,
  images: ReadonlyArray<{ repo: string; name: string }>,
): void {
  if (!defaultResourceSet(config)) return;
  for (const { repo, name } of images) {
    if (config.templates[name] || name.startsWith("_")) continue;
    config.templates[name] = { name, scope: "image", file: repo, settings: { image: `${repo}:${name}` } };
  }
}
