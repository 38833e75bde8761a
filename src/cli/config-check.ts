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

/** Prints every problem found (one per line) and returns the exit status: 0 only when all is valid. */
export async function configCheck(opts: { user: boolean }): Promise<number> {
  try {
    const config = await loadConfig({ user: opts.user, cache: false });
    const problems = [...unsupportedIssues(config), ...(await recipeImageIssues(config))];
    if (problems.length) throw new ConfigError(problems);
    const dirs = opts.user ? `${config.systemDir} and ${config.userDir}` : config.systemDir;
    process.stdout.write(`configuration OK (${dirs})\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) process.stdout.write(`${formatConfigIssue(issue)}\n`);
    const dirs = opts.user ? `${defaultSystemDir()} and ${defaultUserDir()}` : defaultSystemDir();
    process.stderr.write(`pcocc: ${err.issues.length} configuration problem(s) found in ${dirs}\n`);
    return 255;
  }
}
