import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { repoRoot } from "./layout.js";
import { PcoccError } from "../util/errors.js";
import { run, runOk } from "./procs.js";
import type { LabPcocc } from "./types.js";

/** The Debian package `npm run package` builds (packaging/build-deb.sh). */
export const PACKAGE_NAME = "pcocc";

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };

export function checkoutPcocc(): LabPcocc {
  const root = repoRoot();
  const spank = join(root, "slurm-plugin", "build", "spank_pcocc.so");
  return { source: "checkout", bin: join(root, "bin", "pcocc"), spank: existsSync(spank) ? spank : null };
}

/** dpkg knows the package as installed or half-installed, or has its conffiles ("rc" after a remove). */
export async function packagePresent(): Promise<boolean> {
  const r = await run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", PACKAGE_NAME]);
  const status = r.code === 0 ? r.stdout.charAt(1) : "n";
  return status !== "n" && status !== "";
}

/**
 * Installs the .deb with apt-get (which also brings its dependencies) on the host: the lab nodes share the
 * host's /usr and /etc, so this is the nodes' install too. Returns where the package put pcocc.
 */
export async function installPackage(deb: string): Promise<LabPcocc> {
  const file = resolve(deb);
  if (!existsSync(file)) throw new PcoccError(`lab: --from-package: no such file '${deb}'`);
  await runOk(["apt-get", "install", "-y", "-qq", "--no-install-recommends", file], {
    env: APT_ENV,
    timeoutMs: 10 * 60_000,
  });
  const files = (await runOk(["dpkg-query", "-L", PACKAGE_NAME])).split("\n");
  const spank = files.find((f) => f.endsWith("/spank_pcocc.so"));
  const bin = files.find((f) => f === "/usr/bin/pcocc");
  if (!spank || !bin) throw new PcoccError(`lab: package '${deb}' holds no /usr/bin/pcocc or spank_pcocc.so`);
  return { source: "package", bin, spank };
}

/** apt-get purge of the package, when it (or its conffiles) is there. */
export async function purgePackage(): Promise<void> {
  if (!(await packagePresent())) return;
  await runOk(["apt-get", "purge", "-y", "-qq", PACKAGE_NAME], { env: APT_ENV, timeoutMs: 5 * 60_000 });
}
