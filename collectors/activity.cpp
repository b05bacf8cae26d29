// Sessions from pg_stat_activity: connections by state, the oldest open transaction, the longest
// running query, sessions waiting on locks and heavyweight locks by mode (pg_locks), for the
// connected database. The exporter's own session is left out.
#include <array>

#include "collectors/collector.h"

namespace pge {
namespace {

constexpr const char* kQuery = R"SQL(
WITH states(state) AS (
  VALUES ('active'), ('idle'), ('idle in transaction'), ('idle in transaction (aborted)'),
         ('fastpath function call'), ('disabled')
), a AS (
  SELECT * FROM pg_stat_activity
  WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
)
SELECT current_database() AS datname, st.state,
       (SELECT count(*) FROM a WHERE a.state = st.state) AS count,
       (SELECT COALESCE(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)
          FROM a WHERE a.state = st.state) AS max_tx_duration
FROM states st
)SQL";

constexpr const char* kSummaryQuery = R"SQL(
SELECT current_database() AS datname,
       COALESCE(max(extract(epoch FROM clock_timestamp() - xact_start)), 0) AS oldest_xact_age,
       COALESCE(max(extract(epoch FROM clock_timestamp() - query_start))
                  FILTER (WHERE state = 'active'), 0) AS longest_query,
       count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting_on_locks,
       COALESCE(max(age(backend_xmin)), 0) AS oldest_xmin_age
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
)SQL";

// postgres_exporter's modes, one series each (0 when none is held), granted and awaited alike.
constexpr const char* kLocksQuery = R"SQL(
WITH modes(mode) AS (
  VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'), ('shareupdateexclusivelock'),
         ('sharelock'), ('sharerowexclusivelock'), ('exclusivelock'), ('accessexclusivelock'),
         ('sireadlock')
)
SELECT current_database() AS datname, m.mode, count(l.mode) AS count
FROM modes m
LEFT JOIN pg_locks l
  ON lower(l.mode) = m.mode
 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
 AND l.pid IS DISTINCT FROM pg_backend_pid()
GROUP BY m.mode
)SQL";

constexpr std::array<MetricSpec, 2> kStateMetrics{{
    {"pg_stat_activity_connections", kGauge, "count",
     "Client connections to this database in this state."},
    {"pg_stat_activity_max_tx_duration", kGauge, "max_tx_duration",
     "Age in seconds of the oldest transaction among connections in this state."},
}};
constexpr std::array<const char*, 2> kStateLabels{"datname", "state"};

constexpr std::array<MetricSpec, 4> kSummaryMetrics{{
    {"pg_stat_activity_oldest_xact_age_seconds", kGauge, "oldest_xact_age",
     "Age of the oldest open transaction in this database."},
    {"pg_stat_activity_longest_query_seconds", kGauge, "longest_query",
     "Run time so far of the longest running active query."},
    {"pg_stat_activity_waiting_on_locks", kGauge, "waiting_on_locks",
     "Sessions currently waiting to acquire a heavyweight lock."},
    {"pg_stat_activity_oldest_xmin_age", kGauge, "oldest_xmin_age",
     "Age in transactions of the oldest backend_xmin: what holds back VACUUM."},
}};
constexpr std::array<const char*, 1> kSummaryLabels{"datname"};

constexpr std::array<MetricSpec, 1> kLockMetrics{{
    {"pg_locks", kGauge, "count",
     "Heavyweight locks in this database by mode, held or awaited (pg_locks)."},
}};
constexpr std::array<const char*, 2> kLockLabels{"datname", "mode"};

}  // namespace

CollectorCode activity_code() {
  return {.make = rows_collector({
              {.sql = kQuery, .metrics = kStateMetrics, .labels = kStateLabels},
              {.sql = kSummaryQuery, .metrics = kSummaryMetrics, .labels = kSummaryLabels},
              {.sql = kLocksQuery, .metrics = kLockMetrics, .labels = kLockLabels},
          })};
}

}  // namespace pge
