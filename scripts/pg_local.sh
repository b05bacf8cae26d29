#!/usr/bin/env bash
# Runs a throw-away PostgreSQL cluster on loopback for tests, benchmarks and the demo: version 15 from
# the host's packages, or 17 when PGE_TEST_PG=17 (scripts/pg17_root.sh: a Debian 13 root, chrooted).
#   pg_local.sh start DIR PORT   initdb into DIR (first time), start, wait until it accepts connections
#   pg_local.sh stop DIR         fast shutdown; no-op when not running
#   pg_local.sh restart DIR
#   pg_local.sh datadir DIR      print the data directory on the host (DIR itself for 15)
# The server runs as the calling user, or as `postgres` when called as root (PostgreSQL refuses root).
# The superuser is `postgres` with trust authentication on 127.0.0.1 only.
set -euo pipefail
case "${PGE_TEST_PG:-15}" in
  15) ;;
  17) exec "$(dirname "$0")/pg17_root.sh" "$@" ;;
  *) echo "pg_local.sh: PGE_TEST_PG=${PGE_TEST_PG} is not a tested version (15 or 17)" >&2; exit 2 ;;
esac
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
  # A DIR last used with PGE_TEST_PG=17 holds only pg17_root.sh's marker; initdb wants it empty.
  rm -f "$dir/PG17_CLUSTER"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  chmod 700 "$dir"
  as_owner "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
    || { cat "$dir.initdb.log" >&2; exit 1; }
  "$(dirname "$0")/pg_conf.sh" "$port" "$dir" >>"$dir/postgresql.conf"
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
  datadir) realpath -m "$dir" ;;
  *) echo "pg_local.sh: unknown command '$cmd'" >&2; exit 2 ;;
esac
