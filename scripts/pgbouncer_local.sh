#!/usr/bin/env bash
# Runs pgbouncer in transaction pooling mode (what Supabase's pooler does) in front of a local
# cluster, for the tests that prove the exporter works through it.
#   pgbouncer_local.sh start DIR PORT UPSTREAM_PORT
#   pgbouncer_local.sh stop DIR
# Users are trusted; runs as `postgres` when called as root (pgbouncer refuses to run as root).
set -euo pipefail
source "$(dirname "$0")/require.sh"
require pgbouncer pg_isready
[ "$(id -u)" -ne 0 ] || require runuser
cmd=${1:?usage: pgbouncer_local.sh start DIR PORT UPSTREAM_PORT | stop DIR}
dir=${2:?usage: pgbouncer_local.sh start DIR PORT UPSTREAM_PORT | stop DIR}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    port=${3:?PORT missing} upstream=${4:?UPSTREAM_PORT missing}
    mkdir -p "$dir"
    cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$upstream

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 50
default_pool_size = 2
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
admin_users = postgres
INI
    printf '"postgres" ""\n"pge_exporter" ""\n"app" ""\n' >"$dir/userlist.txt"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
    as_owner pgbouncer -d "$dir/pgbouncer.ini"
    for _ in $(seq 50); do
      pg_isready -q -h 127.0.0.1 -p "$port" && exit 0
      sleep 0.1
    done
    echo "pgbouncer did not start; log:" >&2; cat "$dir/pgbouncer.log" >&2; exit 1
    ;;
  stop)
    [ -f "$dir/pgbouncer.pid" ] || exit 0
    kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$dir/pgbouncer.pid" ] || exit 0; sleep 0.1; done
    ;;
  *) echo "pgbouncer_local.sh: unknown command $cmd" >&2; exit 2 ;;
esac
