#!/usr/bin/env bash
# Runs a throw-away PostgreSQL 15 cluster on loopback for tests, benchmarks and the demo.
#   pg_local.sh start DIR PORT   initdb into DIR (first time), start, wait until it accepts connections
#   pg_local.sh stop DIR         fast shutdown; no-op when not running
#   pg_local.sh restart DIR
# The server runs as the calling user, or as `postgres` when called as root (PostgreSQL refuses root).
# The superuser is `postgres` with trust authentication on 127.0.0.1 only.
set -euo pipefail
source "$(dirname "$0")/require.sh"

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$PGBIN/initdb" ] || { echo "pg_local.sh: missing $PGBIN/initdb (Debian package postgresql-15); run scripts/install-deps.sh" >&2; exit 2; }
[ "$(id -u)" -ne 0 ] || require runuser
cmd=${1:?usage: pg_local.sh start|stop|restart DIR [PORT]}
dir=${2:?usage: pg_local.sh start|stop|restart DIR [PORT]}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

init_cluster() {
  local port=$1
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  chmod 700 "$dir"
  as_owner "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
    || { cat "$dir.initdb.log" >&2; exit 1; }
  cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 60
shared_buffers = 256MB
fsync = off
full_page_writes = off
synchronous_commit = on
shared_preload_libraries = 'pg_stat_statements,pg_cron,auto_explain'
cron.database_name = 'sharedminds'
cron.use_background_workers = on
max_worker_processes = 16
pg_stat_statements.max = 5000
pg_stat_statements.track = top
pg_stat_statements.track_utility = on
pg_stat_statements.track_planning = on
track_io_timing = on
track_wal_io_timing = on
track_functions = pl
log_min_messages = warning
logging_collector = off
CONF
}

case "$cmd" in
  start)
    port=${3:?usage: pg_local.sh start DIR PORT}
    [ -f "$dir/PG_VERSION" ] || init_cluster "$port"
    if as_owner "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then exit 0; fi
    as_owner "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { tail -n 30 "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    [ -f "$dir/PG_VERSION" ] || exit 0
    as_owner "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1 || exit 0
    as_owner "$PGBIN/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null
    ;;
  restart)
    as_owner "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null
    ;;
  *) echo "pg_local.sh: unknown command '$cmd'" >&2; exit 2 ;;
esac
