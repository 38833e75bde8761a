#!/usr/bin/env bash
# The README's first command: from a fresh Debian 12 machine (root) to a two-VM virtual cluster on the
# built-in two-node lab. Installs what is missing, starts the lab, then, as the unprivileged lab user,
# allocates `lab:2` and shows the VMs answering: ssh into vm1, and vm0 pinging vm1 on the private network.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it installs packages and starts the lab)" >&2; exit 1; }

echo "== installing missing Debian packages"
bash src/lab/install-deps.sh
echo "== installing npm dependencies (builds the native addon and the SPANK plugin)"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
echo "== starting the lab (the first run also builds the guest images: a few minutes)"
bin/pcocc-lab up

lab_user=$(bin/pcocc-lab env | sed -n 's/^export PCOCC_LAB_USER=//p' | tr -d "'\"")
home=$(getent passwd "$lab_user" | cut -d: -f6)
# The user's own key, authorised in every VM through cloud-init user-data, as a pcocc user would do it.
install -d -m 700 -o "$lab_user" "$home/.ssh"
[ -f "$home/.ssh/id_ed25519" ] || runuser -u "$lab_user" -- ssh-keygen -q -t ed25519 -N '' -f "$home/.ssh/id_ed25519"
cat > "$home/demo-user-data.yaml" <<DATA
#cloud-config
users:
  - name: $lab_user
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys:
      - $(cat "$home/.ssh/id_ed25519.pub")
DATA
cat > "$home/demo-probe.sh" <<'PROBE'
#!/bin/bash
# Runs on the first node of the allocation once both VMs are started.
set -u
echo "== cluster $PCOCC_JOB_ID is up; waiting for ssh in vm1 (cloud-init takes a minute under emulation)"
for _ in $(seq 1 120); do
  name=$(pcocc ssh vm1 hostname 2>/dev/null) && break
  sleep 3
done
echo "pcocc ssh vm1 hostname -> ${name:-<no answer>}"
for _ in $(seq 1 60); do pcocc ssh vm0 true 2>/dev/null && break; sleep 3; done
echo "pcocc ssh vm0 ping -c 2 vm1:"
pcocc ssh vm0 ping -c 2 vm1
PROBE
chmod 755 "$home/demo-probe.sh"
chown "$lab_user" "$home/demo-user-data.yaml" "$home/demo-probe.sh"

echo "== as $lab_user: pcocc alloc -N2 -c1 --user-data ~/demo-user-data.yaml -E ~/demo-probe.sh lab:2"
bin/pcocc-lab exec -- pcocc alloc -N2 -c1 --user-data "$home/demo-user-data.yaml" -E "$home/demo-probe.sh" lab:2
echo "== done: the cluster was torn down when the script ended. Try it yourself:"
echo "   bin/pcocc-lab exec -- pcocc alloc -c1 --user-data $home/demo-user-data.yaml lab:2"
