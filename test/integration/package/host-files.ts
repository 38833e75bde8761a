import { run } from "../../../src/lab/procs.js";

/**
 * Every path a Debian package can leave on the host: the installed trees, systemd's record of unit
 * states, and the top of /var/lib and /var/log (a package's own state or log directory). The lab's
 * directory, dpkg's and apt's own records and caches change for other reasons and are not listed.
 */
const TREES = ["/usr", "/etc", "/opt", "/var/lib/systemd"];
const TOPS = ["/var/lib", "/var/log"];
const NOT_THE_PACKAGES = /^\/var\/(lib\/(dpkg|apt|pcocc-lab|man-db)|log\/(apt|dpkg\.log))(\/|$)/;

export async function hostFiles(): Promise<Set<string>> {
  const [trees, tops] = await Promise.all([
    run(["find", ...TREES, "-xdev"], { timeoutMs: 120_000 }),
    run(["find", ...TOPS, "-mindepth", "1", "-maxdepth", "1"]),
  ]);
  if (trees.code > 1 || tops.code !== 0) throw new Error(`find failed: ${trees.stderr}${tops.stderr}`);
  return new Set(
    (trees.stdout + tops.stdout).split("\n").filter((p) => p !== "" && !NOT_THE_PACKAGES.test(p)),
  );
}

/** Paths in `a` that are not in `b`. */
export function missingFrom(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((p) => !b.has(p)).sort();
}
