// Builds the native addons (host networking; CPU affinity) during `npm ci` (package.json "install"). Checks the
// system headers first so a missing one is reported with the Debian package that provides it, not as a compiler
// error.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const needs = [
  ["/usr/include/nftables/libnftables.h", "libnftables-dev"],
  ["/usr/include/linux/rtnetlink.h", "linux-libc-dev"],
  ["/usr/include/c++", "g++"],
];
const missing = needs.filter(([file]) => !existsSync(file));
if (missing.length > 0) {
  for (const [file, pkg] of missing)
    console.error(`pcocc native addon: missing ${file}: apt-get install ${pkg}`);
  process.exit(1);
}
const gyp = join(here, "..", "node_modules", "node-gyp", "bin", "node-gyp.js");
const r = spawnSync(process.execPath, [gyp, "rebuild", "--directory", here], { stdio: "inherit" });
if (r.status !== 0) {
  console.error("pcocc native addon: build failed (see above); needs g++, make, python3 and libnftables-dev");
  process.exit(r.status ?? 1);
}
