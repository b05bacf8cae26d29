#!/usr/bin/env bash
# Hostile clients against the exporter with its default HTTP limits, twice: plain HTTP, then TLS
# with basic auth (bench/hostile_clients.cpp does the abuse and prints the figures). Passes when
# every well-behaved scrape during the abuse answered 200 within 2 s and the exporter survived.
# No database needed (the target refuses connections; /metrics still serves pg_up 0).
# Usage: test_hostile_clients.sh BUILD_DIR [SECONDS]
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: test_hostile_clients.sh BUILD_DIR [SECONDS]}" && pwd)
seconds=${2:-10}
work="$build/test_hostile_clients"
exporter="$build/pg_evolution_exporter"
tool="$build/bench/hostile_clients"
source "$root/scripts/require.sh"
require python3

fail() { echo "FAIL: $*" >&2; [ -f "$work/exporter.log" ] && tail -n 20 "$work/exporter.log" >&2; exit 1; }
[ -x "$exporter" ] || fail "$exporter not built"
[ -x "$tool" ] || fail "$tool not built (configure with PGE_BUILD_BENCH=ON)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
rm -rf "$work" && mkdir -p "$work" && cd "$work"

password="hostile-$RANDOM"
hash=$(python3 -W ignore -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))' "$password")
cat >web-tls.yml <<YML
tls_server_config:
  cert_file: $root/tests/web/server.pem
  key_file: $root/tests/web/server.key
basic_auth_users:
  prometheus: '$hash'
YML

# run NAME [exporter flags...] -- [tool flags...]
run() {
  local name=$1; shift
  local eflags=() tflags=()
  while [ "$1" != "--" ]; do eflags+=("$1"); shift; done
  shift; tflags=("$@")
  DATA_SOURCE_NAME="host=127.0.0.1 port=1 dbname=x user=u connect_timeout=1" \
    "$exporter" --web.listen-address=127.0.0.1:0 "${eflags[@]}" >exporter.log 2>&1 &
  pid=$!
  local port=""
  for _ in $(seq 50); do
    port=$(sed -n 's/.*msg=listening address=[^ ]* port=\([0-9]*\).*/\1/p' exporter.log | head -n1)
    [ -n "$port" ] && break
    sleep 0.2
  done
  [ -n "$port" ] || fail "exporter did not start"
  echo "== $name (port $port, ${seconds}s of abuse)"
  "$tool" --port="$port" --pid="$pid" --seconds="$seconds" "${tflags[@]}" || fail "$name"
  kill -0 "$pid" || fail "exporter died during $name"
  kill "$pid"; wait "$pid" || true; pid=""
  mv exporter.log "exporter-$name.log"
}

run plain -- --idle=200
run tls-basic-auth --web.config.file=web-tls.yml -- --tls --idle=200 --user=prometheus --password="$password"
grep -qF -- "$password" exporter-*.log && fail "the password appears in the exporter log"
# Thousands of failed TLS handshakes: at most 10 lines of them per minute, the rest counted in one
# line when the exporter stops.
handshake_lines=$(grep -c 'msg="http server" kind=tls_handshake' exporter-tls-basic-auth.log || true)
[ "$handshake_lines" -le 10 ] || fail "$handshake_lines failed-handshake lines logged (limit 10 a minute)"
grep -q 'msg="http server lines held back" kind=tls_handshake lines=[1-9]' exporter-tls-basic-auth.log ||
  fail "no count of the failed-handshake lines held back"
echo "PASS"
