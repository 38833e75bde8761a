import {
  defaultSystemDir,
  defaultUserDir,
  loadConfig,
  resolveTemplate,
  unsupportedIssues,
  type PcoccConfig,
} from "../config/index.js";
import { ConfigError, formatConfigIssue, type ConfigIssue } from "../util/index.js";

/**
 * A recipe ships its templates but not its image, so an installation that never built or imported it is
 * reported here, at the `image:` line that names it, rather than when a user's job starts.
 */
async function recipeImageIssues(config: PcoccConfig): Promise<ConfigIssue[]> {
  const recipes = Object.values(config.templates).filter((t) => t.settings.recipe);
  if (!recipes.length) return [];
  const { requireVmImage, resolveImage } = await import("../image/index.js");
  const issues = await Promise.all(
    recipes.map(async (entry): Promise<ConfigIssue | undefined> => {
      const t = resolveTemplate(config, entry.name);
      const image = t.settings.image;
      const from = config.templates[t.origins.image ?? entry.name] ?? entry;
      const why = image
        ? await resolveImage(config, image)
            .then(requireVmImage)
            .then(
              () => undefined,
              (err: Error) => err.message,
            )
        : "no image set";
      if (!why) return undefined;
      const what = `template '${entry.name}' (recipe ${entry.settings.recipe}): image '${image ?? ""}'`;
      return {
        file: from.file,
        line: from.imageLine,
        keyPath: `${from.name}.image`,
        message: `${what}: ${why}`,
      };
    }),
  );
  return issues.filter((i) => i !== undefined);
}

/** The installation as this host uses it, once the files are valid: 0 when every check passed. */
async function installCheck(config: PcoccConfig, node: boolean): Promise<number> {
  const { installationProblems } = await import("./install-check.js");
  const problems = await installationProblems(config, node);
  for (const p of problems) process.stdout.write(`installation: ${p}\n`);
  if (problems.length) {
    process.stderr.write(`pcocc: ${problems.length} installation problem(s) found\n`);
    return 255;
  }
  const servers = config.batch.settings["etcd-servers"].length;
  const parts = [`etcd: ${servers} server(s) answer over TLS`];
  if (node) parts.push("node: QEMU, qemu-img, dnsmasq, Open vSwitch and nftables usable");
  process.stdout.write(`installation OK (${parts.join("; ")})\n`);
  return 0;
}

export interface ConfigCheckOptions {
  user: boolean;
  /** Also check what the files point at: etcd (TLS, root's password file when root). */
  install?: boolean;
  /** Also check this compute node's tools (implies install). */
  node?: boolean;
}

/** Prints every problem found (one per line) and returns the exit status: 0 only when all is valid. */
export async function configCheck(opts: ConfigCheckOptions): Promise<number> {
  try {
    const config = await loadConfig({ user: opts.user, cache: false });
    const problems = [...unsupportedIssues(config), ...(await recipeImageIssues(config))];
    if (problems.length) throw new ConfigError(problems);
    const dirs = opts.user ? `${config.systemDir} and ${config.userDir}` : config.systemDir;
    process.stdout.write(`configuration OK (${dirs})\n`);
    return opts.install || opts.node ? await installCheck(config, opts.node === true) : 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) process.stdout.write(`${formatConfigIssue(issue)}\n`);
    const dirs = opts.user ? `${defaultSystemDir()} and ${defaultUserDir()}` : defaultSystemDir();
    process.stderr.write(`pcocc: ${err.issues.length} configuration problem(s) found in ${dirs}\n`);
    return 255;
  }
}
