#!/usr/bin/env bash
# The one test command: installs the Debian packages, builds, and runs every test (unit, integration
# against real PostgreSQL/pgbouncer/Prometheus, promtool rule tests, the format check), then, on a
# whole run, the sanitizer pass (scripts/test_sanitizers.sh: the unit tests, the fuzz driver and the
# integration tests of the connection-loss, HTTP, TLS and process paths, built with ASan+UBSan;
# PGE_TEST_SANITIZERS=0 leaves it out) and (with PGE_TEST_PG17=1) the integration tests again against
# PostgreSQL 17. Extra arguments go to ctest (PostgreSQL 15 only), e.g. `scripts/test.sh -L unit` or
# `scripts/test.sh -R Partitions`; `PGE_TEST_PG=17 scripts/test.sh -R ...` runs them on 17.
# Without arguments, every test but the Debian package test (label `package`: debootstrap, minutes on
# its first run), which `scripts/test.sh -L package` runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PGE_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
whole_run=$(($# == 0))
[ $# -gt 0 ] || set -- -LE package
ctest --output-on-failure -j2 --timeout 900 "$@"
# The sanitizer pass: its own tree (build-sanitize next to the build tree); docs/security.md says
# which tests it runs and why those, and what the whole integration suite would cost.
if [ "$whole_run" = 1 ] && [ "${PGE_TEST_SANITIZERS:-1}" = 1 ]; then
  PGE_SANITIZE_BUILD_DIR=${PGE_SANITIZE_BUILD_DIR:-$build-sanitize} "$root/scripts/test_sanitizers.sh" --ci
fi
# The integration suite once more against PostgreSQL 17 (docs/versions.md), run in a Debian 13 root
# that scripts/pg17_root.sh makes once and caches. Only on a whole run with PGE_TEST_PG17=1: the whole
# pass (root included) has not yet been timed against CI's 30-minute budget, nor its shell and fault
# tests run on 17.
if [ "$whole_run" = 1 ] && [ "${PGE_TEST_PG:-15}" = 15 ] && [ "${PGE_TEST_PG17:-0}" = 1 ]; then
  PGE_TEST_PG=17 ctest --output-on-failure -j2 --timeout 900 -L integration
fi
