#!/usr/bin/env bash
# Builds dist/pcocc_<version>_<arch>.deb from this checkout (npm run package). Needs: node + npm (the
# production node_modules are installed with `npm ci --omit=dev` from package-lock.json, from npm's cache
# or its registry), the build tools of the checkout (gcc, g++, make, python3, libslurm-dev,
# libnftables-dev) and dpkg-dev. Everything native (the pcocc addon, node-pty, ssh2's optional
# bindings, the SPANK plugin, the guest agent) is compiled here: installing the package builds nothing.
# Layout and dependencies: packaging/README.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
here="$root/packaging"
version="$(node -p 'require("./package.json").version')"
arch="$(dpkg --print-architecture)"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH)"
# Node's headers come from the installed nodejs package; node-gyp must never try to download them.
export npm_config_nodedir="${npm_config_nodedir:-/usr}"

work="$(mktemp -d "${TMPDIR:-/tmp}/pcocc-deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
pkg="$work/root"
lib="$pkg/usr/lib/pcocc"
say() { echo "package: $*" >&2; }

build_checkout() {
  say "compiling the CLI, the native addon, the SPANK plugin and the guest agent"
  # the checkout's own build first: the man page generator reads the checkout's dist/ (stale pages go)
  rm -rf dist/man
  npm run --silent build >&2
  # the package's copy: fresh (no files of deleted sources), without source maps
  node_modules/.bin/tsc -p tsconfig.build.json --outDir "$work/dist" --sourceMap false
  rm -rf "$work/dist/lab" # the lab is a development tool, not part of the product
  node native/build.mjs >&2
  if node -e 'process.exit(require("./package.json").scripts?.["build:man"] ? 0 : 1)'; then
    say "generating the man pages (npm run build:man)"
    npm run --silent build:man >&2
  fi
}

# Production dependencies only, compiled for this node; the root package's own scripts are left out
# (they build the checkout, already done above).
stage_node_modules() {
  say "installing the production node_modules (npm ci --omit=dev)"
  mkdir -p "$work/npm"
  cp package-lock.json "$work/npm/"
  node -e 'const p = require("./package.json"); delete p.scripts;
    require("fs").writeFileSync(process.argv[1], JSON.stringify(p, null, 2))' "$work/npm/package.json"
  (cd "$work/npm" && npm ci --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error >&2)
  local nm="$work/npm/node_modules"
  tidy_node_modules "$nm"
  mv "$nm" "$lib/node_modules"
}

# What only served the build (sources of other systems, node-gyp's intermediate files with build paths,
# the modules' own lint and VCS files) goes; file modes say what is a script.
tidy_node_modules() {
  local nm="$1" gyp dir f
  # prebuilt binaries and bundled sources for Windows/macOS
  rm -rf "$nm/.bin" "$nm/node-pty/prebuilds" "$nm/node-pty/deps" "$nm/node-pty/third_party"
  while IFS= read -r gyp; do
    dir="$(dirname "$gyp")/build"
    [ -d "$dir/Release" ] || continue
    find "$dir" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
    find "$dir/Release" -mindepth 1 ! -name '*.node' -exec rm -rf {} +
  done < <(find "$nm" -name binding.gyp)
  find "$nm" \( -name '.eslintrc*' -o -name '.npmignore' -o -name '.gitattributes' -o -name '.github' \) \
    -exec rm -rf {} +
  rm -f "$nm/pino/index.html" # a docs page loading scripts from CDNs
  while IFS= read -r -d '' f; do
    if [ "$(head -c2 "$f" | tr -d '\0')" = '#!' ]; then chmod 0755 "$f"; else chmod 0644 "$f"; fi
  done < <(find "$nm" -type f -print0)
}

# Debug symbols and build notes are not shipped; shared objects are not executables.
strip_objects() {
  local f
  while IFS= read -r -d '' f; do
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$f"
    chmod 0644 "$f"
  done < <(find "$pkg" -type f \( -name '*.so' -o -name '*.node' \) -print0)
}

stage_cli() {
  mkdir -p "$lib/bin" "$lib/native/build/Release" "$lib/guest-agent/build" "$pkg/usr/bin"
  install -m 0755 bin/pcocc "$lib/bin/pcocc"
  cp -r "$work/dist" "$lib/dist"
  # every addon target of native/binding.gyp (pcocc_net: netlink, nftables; pcocc_cpu: vCPU affinity)
  install -m 0644 native/build/Release/*.node "$lib/native/build/Release/"
  install -m 0755 guest-agent/build/pcocc-agent "$lib/guest-agent/build/"
  # `pcocc help TOPIC` renders its pages from their sources when man cannot show them
  if [ -d docs ]; then cp -r docs "$lib/docs"; fi
  # "type": "module" and the version `pcocc --version` prints
  node -e 'const p = require("./package.json");
    const keep = ["name", "version", "description", "license", "type", "engines", "dependencies"];
    const out = Object.fromEntries(keep.filter((k) => k in p).map((k) => [k, p[k]]));
    require("fs").writeFileSync(process.argv[1], JSON.stringify(out, null, 2) + "\n")' "$lib/package.json"
  stage_node_modules
  ln -s ../lib/pcocc/bin/pcocc "$pkg/usr/bin/pcocc"
}

stage_system_files() {
  install -d "$pkg/etc/pcocc" "$pkg/etc/slurm/plugstack.conf.d" "$pkg/lib/systemd/system" \
    "$pkg/usr/lib/$multiarch/slurm-wlm" "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/doc/pcocc"
  install -m 0644 etc/*.yaml "$pkg/etc/pcocc/"
  install -m 0644 slurm-plugin/build/spank_pcocc.so "$pkg/usr/lib/$multiarch/slurm-wlm/"
  sed "s|@PLUGIN@|/usr/lib/$multiarch/slurm-wlm/spank_pcocc.so|" "$here/plugstack-pcocc.conf" \
    >"$pkg/etc/slurm/plugstack.conf.d/pcocc.conf"
  install -m 0644 systemd/*.service "$pkg/lib/systemd/system/"
  node bin/pcocc internal complete --bash >"$pkg/usr/share/bash-completion/completions/pcocc"
  if node bin/pcocc internal complete --zsh >"$work/_pcocc" 2>/dev/null; then
    install -D -m 0644 "$work/_pcocc" "$pkg/usr/share/zsh/vendor-completions/_pcocc"
  fi
  stage_man_pages
  # the recipes' user-data and documentation, for a site's templates to point at (recipes/README.md)
  install -d "$pkg/usr/share/pcocc"
  cp -r recipes "$pkg/usr/share/pcocc/recipes"
  find "$pkg/usr/share/pcocc/recipes" -type f -exec chmod 0644 {} +
  install -m 0644 "$here/copyright" "$pkg/usr/share/doc/pcocc/copyright"
  install -m 0644 slurm-plugin/README.md "$pkg/usr/share/doc/pcocc/README.spank.md"
  sed "s|@VERSION@|$version|; s|@DATE@|$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")|" \
    "$here/changelog.in" | gzip -9n >"$pkg/usr/share/doc/pcocc/changelog.gz"
  install -D -m 0644 "$here/lintian-overrides" "$pkg/usr/share/lintian/overrides/pcocc"
}

# Pages generated by `npm run build:man` under dist/man (NAME.SECTION, any depth, maybe already gzipped),
# compressed as Debian wants them.
stage_man_pages() {
  [ -d dist/man ] || { say "no dist/man: the package has no man pages"; return 0; }
  local page name section
  while IFS= read -r -d '' page; do
    name="$(basename "${page%.gz}")"
    section="${name##*.}"
    install -D -m 0644 "$page" "$pkg/usr/share/man/man$section/$(basename "$page")"
    [ "$page" != "${page%.gz}" ] || gzip -9n "$pkg/usr/share/man/man$section/$name"
  done < <(find dist/man -type f \( -name '*.[1-8]' -o -name '*.[1-8].gz' \) -print0)
}

# Depends: the shared libraries of every ELF file (dpkg-shlibdeps), plus what pcocc runs.
depends() {
  mkdir -p "$work/shlibs/debian"
  printf 'Source: pcocc\n\nPackage: pcocc\nArchitecture: any\n' >"$work/shlibs/debian/control"
  local elves=()
  mapfile -t elves < <(find "$pkg" -type f \( -name '*.so' -o -name '*.node' \) | sort)
  local shlibs
  shlibs="$(cd "$work/shlibs" && dpkg-shlibdeps -O --warnings=0 "${elves[@]}" | sed 's/^shlibs:Depends=//')"
  local slurm node_major
  slurm="$(dpkg-query -W -f='${Version}' libslurm-dev | grep -oE '^[0-9]+\.[0-9]+')"
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  # The SPANK plugin only loads into the SLURM release it was built for (plugin_version), and ssh2's
  # optional binding is compiled for this Node.js major version's ABI.
  echo "$shlibs, nodejs (>= $node_major), nodejs (<< $((node_major + 1))), slurm-client (>= $slurm)," \
    "slurm-client (<< $slurm.99), $(grep -Ev '^[[:space:]]*(#|$)' "$here/depends.txt" | paste -sd, | sed 's/,/, /g')"
}

write_control() {
  mkdir -p "$pkg/DEBIAN"
  sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@DEPENDS@|$(depends)|" \
    -e "s|@SIZE@|$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)|" "$here/control.in" >"$pkg/DEBIAN/control"
  (cd "$pkg" && find etc -type f | sed 's|^|/|' | sort) >"$pkg/DEBIAN/conffiles"
  install -m 0755 "$here"/postinst "$here"/prerm "$here"/postrm "$pkg/DEBIAN/"
  (cd "$pkg" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
}

build_checkout
stage_cli
stage_system_files
strip_objects
write_control
mkdir -p dist
out="dist/pcocc_${version}_${arch}.deb"
find "$pkg" -type d -exec chmod 0755 {} +
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >&2
say "built $out"
echo "$out"
