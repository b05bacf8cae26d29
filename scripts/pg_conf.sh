#!/usr/bin/env bash
# Prints the postgresql.conf lines of every test, benchmark and demo cluster (scripts/pg_local.sh for
# PostgreSQL 15 on the host, scripts/pg17_root.sh for 17 in a trixie root), so both versions run
# with the same settings.   pg_conf.sh PORT SOCKET_DIR
set -euo pipefail
port=${1:?usage: pg_conf.sh PORT SOCKET_DIR}
socket_dir=${2:?usage: pg_conf.sh PORT SOCKET_DIR}
cat <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$socket_dir'
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
