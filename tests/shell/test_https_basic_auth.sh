#!/usr/bin/env bash
# Prometheus scrapes the exporter over HTTPS with basic auth, from a fresh CA made here:
#   1. target up with basic_auth + tls_config.ca_file; a wrong password is down with 401
#   2. with client_auth_type RequireAndVerifyClientCert: up with a client certificate, down without
#   3. curl: TLS 1.1 is refused by the server (not just by curl), TLS 1.2 and 1.3 are served;
#      openssl s_client: TLS 1.2 keeps Extended Master Secret on
#   4. neither the password nor its bcrypt hash appears in any log
# No database: the exporter's target refuses connections, so /metrics serves pg_up 0 (still a
# successful scrape). Prometheus listens on PGE_TEST_PORT + 50; the exporters on OS-assigned ports.
# Usage: test_https_basic_auth.sh BUILD_DIR
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: test_https_basic_auth.sh BUILD_DIR}" && pwd)
work="$build/test_https_basic_auth"
exporter="$build/pg_evolution_exporter"
prom_addr=127.0.0.1:$(( ${PGE_TEST_PORT:-25432} + 50 ))
source "$root/scripts/require.sh"
require prometheus curl openssl python3

fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*.log; do [ -f "$log" ] && { echo "--- $log (tail)" >&2; tail -n 15 "$log" >&2; }; done
  exit 1
}
[ -x "$exporter" ] || fail "$exporter not built"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
rm -rf "$work" && mkdir -p "$work/tsdb" && cd "$work"

echo "== certificates and a bcrypt hash"
ec() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 \
  -subj "/CN=test CA" 2>/dev/null
ec server localhost
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
  -extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth') 2>/dev/null
ec client prometheus
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 \
  -extfile <(printf 'extendedKeyUsage=clientAuth') 2>/dev/null
password="pw-$RANDOM-$RANDOM-secret"
hash=$(python3 -W ignore -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))' "$password")
[[ "$hash" == '$2b$10$'* ]] || fail "python3 crypt made no bcrypt hash: $hash"
cat >web.yml <<YML
tls_server_config:
  cert_file: server.pem
  key_file: server.key
basic_auth_users:
  prometheus: '$hash'
YML
cat >web-mtls.yml <<YML
tls_server_config:
  cert_file: server.pem
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.pem
basic_auth_users:
  prometheus: '$hash'
YML

# start_exporter NAME WEBCONFIG: starts it on an OS-assigned port, sets $port.
start_exporter() {
  DATA_SOURCE_NAME="host=127.0.0.1 port=1 dbname=x user=u connect_timeout=1" \
    "$exporter" --web.config.file="$2" --web.listen-address=127.0.0.1:0 --log.level=debug >"$1.log" 2>&1 &
  pids+=($!)
  port=""
  for _ in $(seq 50); do
    port=$(sed -n 's/.*msg=listening address=[^ ]* port=\([0-9]*\).*/\1/p' "$1.log" | head -n1)
    [ -n "$port" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || fail "exporter $1 exited"
    sleep 0.2
  done
  fail "exporter $1 did not start"
}
start_exporter exporter web.yml; port_plain_auth=$port
start_exporter exporter-mtls web-mtls.yml; port_mtls=$port
echo "exporters: TLS + basic auth on $port_plain_auth, TLS + client certificate + basic auth on $port_mtls"

echo "== curl and openssl: protocol versions and Extended Master Secret"
url="https://127.0.0.1:$port_plain_auth/metrics"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem -u "prometheus:$password" "$url")
[ "$code" = 200 ] || fail "TLS + right password gave $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem "$url")
[ "$code" = 401 ] || fail "no credentials gave $code"
echo "== /probe over TLS: behind the same password, gzip-encoded when asked"
target=$(curl -s --cacert ca.pem -u "prometheus:$password" "$url" | sed -n 's/^pg_up{target="\([^"]*\)"} .*/\1/p')
[ -n "$target" ] || fail "no pg_up series in /metrics"
probe="https://127.0.0.1:$port_plain_auth/probe?target=$target"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem "$probe")
[ "$code" = 401 ] || fail "/probe without credentials gave $code"
headers=$(curl -s -D - -o probe.txt --compressed --cacert ca.pem -u "prometheus:$password" "$probe")
grep -qi '^content-encoding: gzip' <<<"$headers" || fail "/probe did not answer gzip: $headers"
grep -q "^pg_up{target=\"$target\"} 0" probe.txt || fail "/probe body has no pg_up 0 for $target"
for v in 1.2 1.3; do
  out=$(curl -s -w '%{http_code}' -o /dev/null --cacert ca.pem -u "prometheus:$password" --tlsv$v --tls-max $v "$url")
  [ "$out" = 200 ] || fail "TLS $v gave $out"
done
# SECLEVEL=0 makes curl's OpenSSL offer TLS 1.1 (Debian's default forbids it on the client side), so
# a failure here is the server's refusal, which its log confirms.
if curl -s -o /dev/null --cacert ca.pem --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT@SECLEVEL=0' "$url"; then
  fail "TLS 1.1 was accepted"
fi
grep -q "unsupported protocol" exporter.log || fail "no server-side refusal of TLS 1.1 in the exporter log"
echo "TLS 1.1 refused by the server; TLS 1.2 and 1.3 served"
ems=$(openssl s_client -tls1_2 -connect "127.0.0.1:$port_plain_auth" -CAfile ca.pem </dev/null 2>/dev/null \
  | grep "Extended master secret" || true)
echo "TLS 1.2: $ems"
[[ "$ems" == *"Extended master secret: yes"* ]] || fail "TLS 1.2 without Extended Master Secret"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem -u "prometheus:$password" "https://127.0.0.1:$port_mtls/metrics" || true)
[ "$code" = 000 ] || fail "no client certificate gave HTTP $code, expected a failed handshake"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem --cert client.pem --key client.key \
  -u "prometheus:$password" "https://127.0.0.1:$port_mtls/metrics")
[ "$code" = 200 ] || fail "client certificate + password gave $code"

echo "== Prometheus on $prom_addr"
job() {  # job NAME PORT PASSWORD [client cert lines]
  cat <<YML
  - job_name: $1
    scheme: https
    scrape_interval: 1s
    scrape_timeout: 900ms
    basic_auth: {username: prometheus, password: '$3'}
    tls_config:
      ca_file: $work/ca.pem
$4
    static_configs: [{targets: ['127.0.0.1:$2']}]
YML
}
{
  echo "scrape_configs:"
  job right "$port_plain_auth" "$password" ""
  job wrong "$port_plain_auth" "not-the-password" ""
  job mtls "$port_mtls" "$password" "      cert_file: $work/client.pem
      key_file: $work/client.key"
  job mtls_without_cert "$port_mtls" "$password" ""
} >prometheus.yml
prometheus --config.file=prometheus.yml --storage.tsdb.path=tsdb --web.listen-address="$prom_addr" >prometheus.log 2>&1 &
pids+=($!)

targets() { curl -sf "http://$prom_addr/api/v1/targets" 2>/dev/null || echo '{}'; }
# health JOB -> "up", "down" or "unknown"; error JOB -> lastError
field() {
  targets | python3 -c '
import json, sys
job, key = sys.argv[1], sys.argv[2]
data = json.load(sys.stdin).get("data", {}).get("activeTargets", [])
print(next((t[key] for t in data if t["labels"]["job"] == job), ""))' "$1" "$2"
}
deadline=$((SECONDS + 60))
until [ "$(field right health)" = up ] && [ "$(field wrong health)" = down ] \
    && [ "$(field mtls health)" = up ] && [ "$(field mtls_without_cert health)" = down ]; do
  [ $SECONDS -lt $deadline ] || fail "targets not as expected: right=$(field right health) wrong=$(field wrong health) mtls=$(field mtls health) mtls_without_cert=$(field mtls_without_cert health)"
  sleep 1
done
for j in right wrong mtls mtls_without_cert; do echo "job $j: $(field $j health) $(field $j lastError)"; done
[[ "$(field wrong lastError)" == *401* ]] || fail "wrong password: expected a 401, got: $(field wrong lastError)"
value=$(curl -sfG "http://$prom_addr/api/v1/query" --data-urlencode 'query=pg_up{job="right"}' \
  | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")')
[ "$value" = 0 ] || fail "pg_up from the HTTPS scrape: '$value' (expected 0: the target refuses connections)"

echo "== no password or hash in any log"
for log in *.log; do
  grep -qF -- "$password" "$log" && fail "the password appears in $log"
  grep -qF -- "$hash" "$log" && fail "the bcrypt hash appears in $log"
  grep -qF -- "${hash:7:22}" "$log" && fail "the bcrypt salt appears in $log"
done
echo "PASS"
