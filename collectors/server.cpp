// Server identity: version, start time, whether it is a replica. Cheap; runs every minute.
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
       current_setting('max_connections')::int AS max_connections
)SQL";

constexpr MetricSpec kStatic{"pg_static", kGauge, kComputed,
                             "Version of the PostgreSQL server, constant 1."};

constexpr std::array<MetricSpec, 5> kMetrics{{
    {"pg_server_version_num", kGauge, "version_num",
     "server_version_num of the server (e.g. 150020)."},
    {"pg_postmaster_start_time_seconds", kGauge, "start_time",
     "Time at which the server started (Unix time)."},
    {"pg_replication_is_replica", kGauge, "is_replica",
     "Whether the server is a standby in recovery (1) or not (0)."},
    {"pg_config_load_time_seconds", kGauge, "conf_load_time",
     "Time the configuration files were last loaded (Unix time)."},
    {"pg_settings_max_connections", kGauge, "max_connections", "The max_connections setting."},
}};

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
    return out.take();
  }
};

}  // namespace

CollectorInfo server_info() {
  return {.name = "server",
          .help = "Server version, start time and replica status.",
          .default_interval = Seconds{60},
          .make = make_collector<ServerCollector>};
}

}  // namespace pge
