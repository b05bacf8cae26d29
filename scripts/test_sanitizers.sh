#!/usr/bin/env bash
# The unit and integration suites once more, built with AddressSanitizer and UndefinedBehaviorSanitizer
# (cmake -DPGE_SANITIZE=ON): a memory error, a leak or undefined behaviour, in a test binary or in an
# exporter process a test started, fails that test. Its own build tree ($PGE_SANITIZE_BUILD_DIR,
# default build-sanitize) builds only the two test binaries, the exporter and the fuzz driver, which
# runs its fixed time here too. The shell tests (Prometheus end to end, scripts, hostile clients)
# stay out: they drive the same code as the integration tests (docs/security.md, "Sanitizers and
# fuzzing"). Extra arguments go to ctest instead of the integration selection, e.g. `-R WebSecurity`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PGE_SANITIZE_BUILD_DIR:-$root/build-sanitize}

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGE_SANITIZE=ON -DPGE_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target unit_tests integration_tests fuzz_inputs
# Leaks inside third-party libraries, each proven not ours, are listed with the proof in lsan.supp.
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=print_stacktrace=1
cd "$build"
# The unit tests in one process: a sanitized process takes about a second to start, and ctest would
# start one per test.
if ! tests/unit_tests --gtest_brief=1 >unit_tests.log 2>&1; then
  cat unit_tests.log
  exit 1
fi
# --ci: the pass CI runs within its time budget: the fuzz driver and the integration tests of the
# paths where memory errors hide (connection loss and reconnect, cancel, HTTP and TLS, flags, reload,
# the exporter process end to end, the statements estimator's per-entry state), not the collectors'
# SQL-truth tests, which add minutes of waiting on PostgreSQL and little C++ of their own.
readonly ci_selection='^(pg\.|fuzz\.|integration\.(Exporter|WebSecurity|CommandLine|ConfigReload|FaultSuite|ProcessMetrics|Session|Statements[A-Za-z]*|SeriesBudget|Pgbouncer)\.)'
if [ "${1:-}" = --ci ]; then
  set -- -R "$ci_selection"
fi
[ $# -gt 0 ] || set -- -R '^(integration\.|pg\.|fuzz\.)'
ctest --output-on-failure -j2 --timeout 900 "$@"
