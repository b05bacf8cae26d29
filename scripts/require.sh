# Sourced by the project's scripts. The command-line tools that scripts, tests and benchmarks run,
# each with the Debian 12 package that provides it: scripts/install-deps.sh installs these packages,
# and a script that needs a tool calls `require TOOL...` before it starts anything, so a missing
# tool stops it at once with the package's name instead of failing halfway through a test.

declare -A PGE_TOOL_PACKAGE=(
  [cmake]=cmake [ctest]=cmake
  [g++]=build-essential [make]=build-essential
  [pkg-config]=pkg-config
  [git]=git
  [clang-format]=clang-format  # scripts/format.sh, test lint.clang_format
  [curl]=curl
  [openssl]=openssl
  [python3]=python3
  [psql]=postgresql-client-15 [pg_isready]=postgresql-client-15
  [pgbench]=postgresql-15
  [pgbouncer]=pgbouncer
  [prometheus]=prometheus [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager [amtool]=prometheus-alertmanager
  [pgrep]=procps
  [flock]=util-linux [runuser]=util-linux [setsid]=util-linux
  # tests/shell/test_grafana_schema.sh type-checks the dashboards with @grafana/schema from npm.
  [node]=nodejs [npm]=npm
  [help2man]=help2man [dpkg-deb]=dpkg [dpkg-shlibdeps]=dpkg-dev
  # CPack's Debian generator runs `file` to find the binaries for dpkg-shlibdeps.
  [file]=file
  # debootstrap and chroot also run the PostgreSQL 17 test server in a Debian 13 root (scripts/pg17_root.sh).
  [debootstrap]=debootstrap [chroot]=coreutils [systemd-analyze]=systemd
)

# Python modules imported by the test scripts and grafana/build_dashboards.py.
declare -A PGE_PYTHON_MODULE_PACKAGE=(
  [yaml]=python3-yaml
)

# Stops (exit 2) naming every missing tool and the package that provides it.
require() {
  local tool missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool (Debian package ${PGE_TOOL_PACKAGE[$tool]:-unknown})")
  done
  stop_if_missing "${missing[@]}"
}

# Stops (exit 2) naming every python3 module that cannot be imported and its package.
require_python_module() {
  require python3
  local module missing=()
  for module in "$@"; do
    python3 -c "import $module" >/dev/null 2>&1 ||
      missing+=("python3 module $module (Debian package ${PGE_PYTHON_MODULE_PACKAGE[$module]:-unknown})")
  done
  stop_if_missing "${missing[@]}"
}

stop_if_missing() {
  [ $# -eq 0 ] && return 0
  printf '%s: missing %s; run scripts/install-deps.sh\n' "$(basename "$0")" "$*" >&2
  exit 2
}

