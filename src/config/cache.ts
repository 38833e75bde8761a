import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  SYSTEM_FILES,
  USER_FILES,
  USER_TEMPLATES_DIR,
  defaultSystemDir,
  defaultUserDir,
  isYamlFile,
  userCacheDir,
} from "./dirs.js";
import type { PcoccConfig } from "./types.js";

export interface LoadOptions {
  /** Default `$PCOCC_SYSTEM_CONF_DIR` or `/etc/pcocc`. */
  systemDir?: string;
  /** Default `$PCOCC_USER_CONF_DIR` or `~/.pcocc`. */
  userDir?: string;
  /** `false`: system files only (what root uses for node setup). Default true. */
  user?: boolean;
  /** Use the per-user cache of the validated configuration. Default: true when `user` is. */
  cache?: boolean;
}

/**
 * Loads and cross-checks every configuration file; throws one `ConfigError` listing every problem found.
 *
 * Parsing YAML and validating it costs more than the rest of a short command (importing `yaml` and `zod`
 * alone is most of it), so a user's validated configuration is cached as JSON, keyed by the identity
 * (inode, size, mtime, ctime) of every file it was read from and of the loader itself. Root (`user: false`)
 * never uses the cache.
 */
export async function loadConfig(opts: LoadOptions = {}): Promise<PcoccConfig> {
  const systemDir = opts.systemDir ?? defaultSystemDir();
  const userDir = opts.userDir ?? defaultUserDir();
  const user = opts.user ?? true;
  const load = async () => (await import("./load.js")).loadConfigFiles({ systemDir, userDir, user });
  if (!user || opts.cache === false) return load();

  const stamp = fingerprint(systemDir, userDir);
  const file = join(userCacheDir(), `config-${fnv1a64(`${systemDir}\0${userDir}`)}.json`);
  const cached = readCache(file, stamp);
  if (cached) return cached;
  const config = await load();
  writeCache(file, stamp, config);
  return config;
}

/** Names the cache file per pair of directories; node:crypto would cost more to load than the whole lookup. */
function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const c of Buffer.from(text)) h = BigInt.asUintN(64, (h ^ BigInt(c)) * 0x100000001b3n);
  return h.toString(16).padStart(16, "0");
}

function identity(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return "-";
  }
}

function fingerprint(systemDir: string, userDir: string): string {
  const templatesDir = join(userDir, USER_TEMPLATES_DIR);
  let extra: string[] = [];
  try {
    extra = readdirSync(templatesDir)
      .filter(isYamlFile)
      .sort()
      .map((f) => join(templatesDir, f));
  } catch {
    /* no templates.d */
  }
  const paths = [
    fileURLToPath(new URL("./load.js", import.meta.url)),
    ...SYSTEM_FILES.map((f) => join(systemDir, f)),
    ...USER_FILES.map((f) => join(userDir, f)),
    templatesDir,
    ...extra,
  ];
  return paths.map((p) => `${p}=${identity(p)}`).join("\n");
}

function readCache(file: string, stamp: string): PcoccConfig | undefined {
  try {
    const st = statSync(file);
    // only a cache this user wrote and nobody else can change
    if (st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) return undefined;
    const data = JSON.parse(readFileSync(file, "utf8")) as { stamp?: string; config?: PcoccConfig };
    return data.stamp === stamp ? data.config : undefined;
  } catch {
    return undefined;
  }
}

function writeCache(file: string, stamp: string, config: PcoccConfig): void {
  try {
    makeDirs(dirname(file));
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ stamp, config }), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // a cache that cannot be written only costs time
  }
}

/**
 * `mkdir -p` one level at a time: node's own `recursive` mkdir loops forever on some unwritable paths (any under
 * /proc), and `$XDG_CACHE_HOME` is the user's to point anywhere.
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d, { mode: 0o700 });
}
