#!/usr/bin/env bash
# Installs the Debian packages listed in debian-packages.txt that are missing (idempotent; a fast no-op when
# everything is present). Package maintainer scripts must not start their services: the lab runs its own
# etcd, munged, slurmd/slurmctld and Open vSwitch, and a system instance would hold the same sockets/ports.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
list="$here/debian-packages.txt"

mapfile -t wanted < <(grep -Ev '^[[:space:]]*(#|$)' "$list" | sed 's/[[:space:]]//g' | grep -v '^$')
installed="$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${wanted[@]}" 2>/dev/null | awk '$2 == "ii" { print $1 }' || true)"
missing=()
for pkg in "${wanted[@]}"; do
  if ! grep -qxF "$pkg" <<<"$installed"; then missing+=("$pkg"); fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages (run as root to install): ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2

# policy-rc.d exit 101 = "action forbidden": invoke-rc.d then starts no service during the install.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once when they are missing or a package cannot be found in them.
if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then apt-get update -qq; fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
