#!/usr/bin/env bash
# The one command that runs every test on a fresh Debian 12 machine (root): installs the system packages
# the lab needs, the npm dependencies (which build the native addon and the SPANK plugin), then lint,
# type checks, unit tests and the integration tests on a real lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash src/lab/install-deps.sh
npm ci --no-audit --no-fund
npm test
