#!/usr/bin/env bash
# The one test command: installs the Debian packages, builds, and runs every test (unit, integration
# against real PostgreSQL/pgbouncer/Prometheus, promtool rule tests). Extra arguments go to ctest,
# e.g. `scripts/test.sh -L unit` or `scripts/test.sh -R Partitions`. Without arguments, every test but
# the Debian package test (label `package`: debootstrap, minutes on its first run), which
# `scripts/test.sh -L package` runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PGE_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
[ $# -gt 0 ] || set -- -LE package
ctest --output-on-failure -j2 --timeout 900 "$@"
