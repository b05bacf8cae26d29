// Server identity: version, start time, whether it is a replica. Cheap; runs every minute.
#include "collectors/collector.h"

namespace pge {
namespace {

constexpr const char* kQuery = R"SQL(
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       extract(epoch FROM pg_postmaster_start_time()) AS start_time,
       pg_is_in_recovery() AS is_replica,
       extract(epoch FROM pg_conf_load_time()) AS conf_load_time,
       current_setting('max_connections')::int AS max_connections
)SQL";

class ServerCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext&) override {
    Rows rows = session.query(kQuery);
    SnapshotBuilder out;
    const std::string version = rows.text(0, "version");
    const int num = static_cast<int>(*rows.number(0, "version_num"));
    out.gauge("pg_static", "Version of the PostgreSQL server, constant 1.",
              {{"short_version", std::to_string(num / 10000) + "." + std::to_string(num % 100)},
               {"version", version}},
              1);
    out.gauge("pg_server_version_num", "server_version_num of the server (e.g. 150020).", {}, num);
    out.gauge("pg_postmaster_start_time_seconds", "Time at which the server started (Unix time).",
              {}, *rows.number(0, "start_time"));
    out.gauge("pg_replication_is_replica", "Whether the server is a standby in recovery (1) or not (0).",
              {}, rows.flag(0, "is_replica") ? 1 : 0);
    out.gauge("pg_config_load_time_seconds", "Time the configuration files were last loaded (Unix time).",
              {}, *rows.number(0, "conf_load_time"));
    out.gauge("pg_settings_max_connections", "The max_connections setting.", {},
              *rows.number(0, "max_connections"));
    return out.take();
  }
};

}  // namespace

CollectorInfo server_info() {
  return {"server", "Server version, start time and replica status.", Seconds{60}, Seconds{5}, true,
          {}, [] { return std::make_unique<ServerCollector>(); }};
}

}  // namespace pge
