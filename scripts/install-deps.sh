#!/usr/bin/env bash
# Installs every Debian 12 package that the build, the tests, the benchmarks and the demo use, then
# checks that each tool the scripts run is on the PATH. Idempotent: packages already installed cost
# one dpkg query. Needs root (or sudo) only when something is missing.
set -euo pipefail
source "$(dirname "$0")/require.sh"

# Libraries the exporter, the tests and the benchmarks link (CMakeLists.txt).
# libyaml-cpp-dev reads the web config (--web.config.file); libssl-dev and libcrypt-dev (libxcrypt)
# give TLS and bcrypt for basic auth.
LIBRARIES=(
  prometheus-cpp-dev libpqxx-dev libtomlplusplus-dev libspdlog-dev
  libyaml-cpp-dev libssl-dev libcrypt-dev
  libcli11-dev  # the command line (exporter/flags.cpp)
  libgtest-dev libgmock-dev libbenchmark-dev
)
# Servers the tests and the demo start on loopback, beyond those that provide a tool below:
# pg_cron and pg_partman are extensions the reference database loads.
SERVERS=(postgresql-15 postgresql-15-cron postgresql-15-partman)
# The packages of the tools and python modules in scripts/require.sh that are missing. A tool is
# looked up on the PATH rather than by package: node and npm may come from another packaging of
# Node.js (NodeSource's nodejs provides npm and conflicts with Debian's npm package).
TOOLS=()
for tool in "${!PGE_TOOL_PACKAGE[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || TOOLS+=("${PGE_TOOL_PACKAGE[$tool]}")
done
for module in "${!PGE_PYTHON_MODULE_PACKAGE[@]}"; do
  python3 -c "import $module" >/dev/null 2>&1 || TOOLS+=("${PGE_PYTHON_MODULE_PACKAGE[$module]}")
done

missing=()
for p in $(printf '%s\n' "${LIBRARIES[@]}" "${SERVERS[@]}" "${TOOLS[@]}" | sort -u); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

require "${!PGE_TOOL_PACKAGE[@]}"
require_python_module "${!PGE_PYTHON_MODULE_PACKAGE[@]}"
