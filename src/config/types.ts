import type { ConfigIssue } from "../util/index.js";
import type {
  BatchConfig,
  NetworkConfig,
  ResourceSet,
  TemplateSettingKey,
  TemplateSettings,
} from "./schemas.js";

export type { BatchConfig, NetworkConfig, ResourceSet, TemplateSettingKey, TemplateSettings };
export type { EthernetNetworkConfig, EthernetSettings, NetworkType } from "./schemas.js";

/** `image` templates are the implicit ones made for repository images that have no template of their own. */
export type TemplateScope = "system" | "user" | "image";

export interface TemplateEntry {
  name: string;
  scope: TemplateScope;
  /** File the template was defined in (for `image` templates: the repository name). */
  file: string;
  /** Line of its own `image:` key, so a check made later (an image that does not resolve) can point at it. */
  imageLine?: number;
  settings: TemplateSettings;
}

export interface RepoConfig {
  name: string;
  /** As written: expand with `expandPath` once the user is known. */
  path: string;
  scope: "system" | "user";
  file: string;
}

export interface PcoccConfig {
  systemDir: string;
  userDir: string;
  batch: BatchConfig;
  networks: Record<string, NetworkConfig>;
  resourceSets: Record<string, ResourceSet>;
  templates: Record<string, TemplateEntry>;
  /** User repositories first: they take precedence over system ones. */
  repos: RepoConfig[];
  /** The container-image cache (`cache:` in either repos.yaml), if configured. */
  cache?: { path: string; file: string };
  unsupported: Unsupported;
}

/**
 * Valid pcocc configuration this installation cannot run, located in its file. Loading keeps going (commands
 * that do not start VMs still work); `config check` reports every entry and a launch refuses those it needs.
 */
export interface Unsupported {
  /** `type: local` in batch.yaml. */
  batch?: ConfigIssue;
  /** By network name. */
  networks: Record<string, ConfigIssue>;
}
