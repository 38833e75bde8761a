import { homedir } from "node:os";
import { join } from "node:path";

export function defaultSystemDir(): string {
  return process.env.PCOCC_SYSTEM_CONF_DIR || "/etc/pcocc";
}

export function defaultUserDir(): string {
  return process.env.PCOCC_USER_CONF_DIR || join(homedir(), ".pcocc");
}

/** Where a user's disposable caches go (`$XDG_CACHE_HOME/pcocc`, default `~/.cache/pcocc`). */
export function userCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "pcocc");
}

export const SYSTEM_FILES = ["batch.yaml", "networks.yaml", "resources.yaml", "templates.yaml", "repos.yaml"];
export const USER_FILES = ["repos.yaml", "templates.yaml"];
export const USER_TEMPLATES_DIR = "templates.d";

export function isYamlFile(name: string): boolean {
  return name.endsWith(".yaml") || name.endsWith(".yml");
}
