#!/usr/bin/env bash
# PostgreSQL 17 for tests, from Debian 13 (trixie) packages, in a root made by debootstrap; the
# server runs chrooted there on a loopback port while the exporter and the tests run on the host and
# connect by TCP. The root is made once and cached (about a minute with a warm mirror).
#   pg17_root.sh root              make the root (first time) and print its path
#   pg17_root.sh start DIR PORT    initdb (first time) and start a cluster; DIR is a host path
#   pg17_root.sh stop DIR          fast shutdown; no-op when not running
#   pg17_root.sh restart DIR
#   pg17_root.sh datadir DIR       print where the cluster's data directory is on the host
# DIR is scripts/pg_local.sh's argument, so callers need not know the version. The chrooted server
# cannot see host paths: its data and server.log live in the root under /srv/pge/<DIR with / turned
# into _>, and DIR on the host holds only the file PG17_CLUSTER naming them. As with 15, removing DIR
# means a fresh cluster at the next start.
# Needs root (debootstrap, chroot). PGE_PG17_ROOT overrides the cache directory; PGE_DEBIAN_MIRROR
# the mirror.
set -euo pipefail
source "$(dirname "$0")/require.sh"

ROOT=${PGE_PG17_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/pg_evolution_exporter/trixie-pg17}
MIRROR=${PGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PGBIN=/usr/lib/postgresql/17/bin
# pg_cron: scripts/pg_conf.sh preloads it; pg_cron and pg_partman: the test schema and the reference
# database create both. Trixie packages both for 17. C.UTF-8 (initdb's locale) comes with libc-bin.
PACKAGES=(postgresql-17 postgresql-contrib postgresql-17-cron postgresql-17-partman)
READY_MARK=$ROOT/.pge-ready

usage() { echo "usage: pg17_root.sh root | start DIR PORT | stop DIR | restart DIR | datadir DIR" >&2; exit 2; }

in_root() { chroot "$ROOT" "$@"; }
as_postgres() { chroot --userspec=postgres:postgres "$ROOT" env HOME=/var/lib/postgresql "$@"; }

make_root() {
  [ -f "$READY_MARK" ] && return 0
  [ "$(id -u)" -eq 0 ] || { echo "pg17_root.sh: making the trixie root needs root (debootstrap, chroot)" >&2; exit 2; }
  require debootstrap chroot
  echo "pg17_root.sh: making a Debian 13 root in $ROOT (cached for later runs)" >&2
  rm -rf "$ROOT"
  mkdir -p "$ROOT"
  debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 \
    || { tail -n 30 "$ROOT.debootstrap.log" >&2; exit 1; }
  # No service may start inside the root while packages install, and no default cluster is wanted.
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  mkdir -p "$ROOT/etc/postgresql-common"
  echo "create_main_cluster = false" >"$ROOT/etc/postgresql-common/createcluster.conf"
  in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" \
    >"$ROOT.apt.log" 2>&1 || { tail -n 30 "$ROOT.apt.log" >&2; exit 1; }
  in_root apt-get clean
  touch "$READY_MARK"
}

cluster_path() { printf '/srv/pge/%s' "$(printf '%s' "$1" | tr '/' '_')"; }

cmd=${1:-}
case "$cmd" in
  root) make_root; echo "$ROOT"; exit 0 ;;
  start|stop|restart|datadir) ;;
  *) usage ;;
esac
dir=${2:-}
[ -n "$dir" ] || usage
dir=$(realpath -m "$dir")
data=$(cluster_path "$dir")

pg_ctl() { as_postgres "$PGBIN/pg_ctl" -D "$data" "$@"; }

init_cluster() {
  local port=$1
  mkdir -p "$ROOT$data"
  in_root chown postgres:postgres "$data"
  chmod 700 "$ROOT$data"
  as_postgres "$PGBIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$ROOT$data.initdb.log" 2>&1 \
    || { cat "$ROOT$data.initdb.log" >&2; exit 1; }
  "$(dirname "$0")/pg_conf.sh" "$port" "$data" >>"$ROOT$data/postgresql.conf"
}

# A cluster in the root whose DIR was removed on the host is thrown away, running or not.
drop_orphan_cluster() {
  [ -f "$dir/PG17_CLUSTER" ] && return 0
  if [ -f "$ROOT$data/PG_VERSION" ] && pg_ctl status >/dev/null 2>&1; then pg_ctl -m immediate -w stop >/dev/null; fi
  rm -rf "${ROOT:?}$data" "$ROOT$data.initdb.log"
}

case "$cmd" in
  start)
    port=${3:-}
    [ -n "$port" ] || usage
    make_root
    drop_orphan_cluster
    if [ ! -f "$ROOT$data/PG_VERSION" ]; then
      init_cluster "$port"
      mkdir -p "$dir"
      echo "$ROOT$data" >"$dir/PG17_CLUSTER"
    fi
    if pg_ctl status >/dev/null 2>&1; then exit 0; fi
    pg_ctl -l "$data/server.log" -w -t 60 start >/dev/null || { tail -n 30 "$ROOT$data/server.log" >&2; exit 1; }
    ;;
  stop)
    [ -f "$ROOT$data/PG_VERSION" ] || exit 0
    pg_ctl status >/dev/null 2>&1 || exit 0
    pg_ctl -m fast -w -t 60 stop >/dev/null
    ;;
  restart)
    pg_ctl -l "$data/server.log" -m fast -w -t 60 restart >/dev/null
    ;;
  datadir) echo "$ROOT$data" ;;
esac
