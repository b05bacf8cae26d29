#!/usr/bin/env bash
# CTest fixture: starts the test cluster and builds the template database `pge_template` (reference
# schema, data at scale 0.01) that integration tests copy, one database per test.
set -euo pipefail
source "$(dirname "$0")/../scripts/require.sh"
require psql
dir=$1 port=$2
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/pg_local.sh" stop "$dir" || true
"$root/scripts/pg_local.sh" start "$dir" "$port"
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname LIKE 'pge\_%' AND pid <> pg_backend_pid();
DROP DATABASE IF EXISTS pge_template WITH (FORCE);
CREATE DATABASE pge_template;
SQL
psql -X -q -v ON_ERROR_STOP=1 -d pge_template -f "$root/tests/fixtures/schema.sql" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d pge_template -v scale=0.01 -f "$root/tests/fixtures/data.sql" >/dev/null
# Every integration test connects as the least-privilege role that scripts/create-role.sql makes
# for config/sharedminds.toml (the same tables as scripts/refdb.sh), never as a superuser.
psql -X -q -v ON_ERROR_STOP=1 -d pge_template -v role=pge_exporter -v password=exporter \
  -v tables="$(sed -n 's/^SHAREDMINDS_TABLES=//p' "$root/scripts/refdb.sh")" -f "$root/scripts/create-role.sql" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d pge_template -c "VACUUM ANALYZE" >/dev/null
echo "test cluster on port $port with template database pge_template"
