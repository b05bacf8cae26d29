// Server identity: version, start time, replication state (replica or not, replay lag, slots) and
// the settings that alerts written for postgres_exporter divide by. Cheap; runs every minute.
#include <array>

#include "collectors/collector.h"

namespace pge {
namespace {

constexpr const char* kQuery = R"SQL(
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       extract(epoch FROM pg_postmaster_start_time()) AS start_time,
       pg_is_in_recovery()::int AS is_replica,
       extract(epoch FROM pg_conf_load_time()) AS conf_load_time,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved_connections,
       current_setting('max_locks_per_transaction')::int AS max_locks_per_transaction,
       current_setting('autovacuum_vacuum_threshold')::int AS autovacuum_vacuum_threshold,
       current_setting('autovacuum_vacuum_scale_factor')::float8 AS autovacuum_vacuum_scale_factor,
       -- postgres_exporter's definition: 0 on a primary and on a standby that has replayed all it
       -- received, else the age of the last replayed transaction.
       CASE WHEN NOT pg_is_in_recovery() THEN 0
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE GREATEST(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))
       END AS replication_lag
)SQL";

constexpr const char* kSlotsQuery = R"SQL(
SELECT slot_name, COALESCE(database, '') AS database, active::int AS active
FROM pg_replication_slots
)SQL";

constexpr MetricSpec kStatic{"pg_static", kGauge, kComputed,
                             "Version of the PostgreSQL server, constant 1."};

constexpr std::array<MetricSpec, 10> kMetrics{{
    {"pg_server_version_num", kGauge, "version_num",
     "server_version_num of the server (e.g. 150020)."},
    {"pg_postmaster_start_time_seconds", kGauge, "start_time",
     "Time at which the server started (Unix time)."},
    {"pg_replication_is_replica", kGauge, "is_replica",
     "Whether the server is a standby in recovery (1) or not (0)."},
    {"pg_config_load_time_seconds", kGauge, "conf_load_time",
     "Time the configuration files were last loaded (Unix time)."},
    {"pg_settings_max_connections", kGauge, "max_connections", "The max_connections setting."},
    {"pg_settings_superuser_reserved_connections", kGauge, "superuser_reserved_connections",
     "The superuser_reserved_connections setting."},
    {"pg_settings_max_locks_per_transaction", kGauge, "max_locks_per_transaction",
     "The max_locks_per_transaction setting."},
    {"pg_settings_autovacuum_vacuum_threshold", kGauge, "autovacuum_vacuum_threshold",
     "The autovacuum_vacuum_threshold setting (dead tuples)."},
    {"pg_settings_autovacuum_vacuum_scale_factor", kGauge, "autovacuum_vacuum_scale_factor",
     "The autovacuum_vacuum_scale_factor setting (fraction of the table)."},
    {"pg_replication_lag_seconds", kGauge, "replication_lag",
     "On a standby, age of the last replayed transaction while WAL remains to replay; else 0."},
}};

constexpr std::array<MetricSpec, 1> kSlotMetrics{{
    {"pg_replication_slots_active", kGauge, "active",
     "Whether a process is streaming from this replication slot (1) or not (0)."},
}};
constexpr std::array<const char*, 2> kSlotLabels{"slot_name", "database"};

class ServerCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext&) override {
    const Rows rows = session.query(kQuery);
    SnapshotBuilder out;
    const int num = static_cast<int>(*rows.number(0, "version_num"));
    emit(out, kStatic,
         {{"short_version", std::to_string(num / 10000) + "." + std::to_string(num % 100)},
          {"version", rows.text(0, "version")}},
         1);
    emit_rows(out, rows, kMetrics, {});
    emit_rows(out, session.query(kSlotsQuery), kSlotMetrics, kSlotLabels);
    return out.take();
  }
};

}  // namespace

CollectorCode server_code() { return {.make = make_collector<ServerCollector>}; }

}  // namespace pge
