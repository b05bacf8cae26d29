// Background jobs: pg_cron's jobs with their last outcome, last success, failures among the last
// runs, runs left without a start or end time, and how overdue each job is against its own schedule
// (parsed with CronSchedule); plus the retention job's own run record (target.retention), so that a
// rule can catch a run that deleted more rows than it archived.
//
// pg_cron exists in one database of the cluster (cron.database_name). Elsewhere this collector
// exports pg_cron_installed 0 and no job series; that is not an error. Its tables have row-level
// security, so `cron_job_table` / `cron_run_details_table` may name superuser-owned views instead.
// Each job's history is read newest-first through the runid primary key, `recent_runs` rows at
// most.
#include <array>
#include <cmath>
#include <map>

#include "collectors/collector.h"
#include "collectors/cron_schedule.h"
#include "collectors/migration_common.h"

namespace pge {
namespace {

constexpr const char* kJobsQuery = R"SQL(
SELECT current_database() AS datname, j.jobid::text AS jobid, COALESCE(j.jobname, '') AS jobname,
       j.schedule, j.database, j.username, j.active::int AS active,
       extract(epoch FROM now()) AS now,
       recent.failures, recent.unfinished, recent.last_start,
       fin.succeeded AS last_run_success, fin.duration AS last_duration,
       extract(epoch FROM ok.end_time) AS last_success
FROM {job} j
LEFT JOIN LATERAL (
  SELECT count(*) FILTER (WHERE r.status = 'failed') AS failures,
         count(*) FILTER (WHERE (r.start_time IS NULL OR r.end_time IS NULL)
                            AND NOT (r.newest AND r.status IN ('starting', 'running', 'connecting', 'sending'))) AS unfinished,
         extract(epoch FROM max(r.start_time)) AS last_start
  FROM (SELECT r0.*, r0.runid = max(r0.runid) OVER () AS newest
        FROM (SELECT d.runid, d.status, d.start_time, d.end_time FROM {details} d
              WHERE d.jobid = j.jobid ORDER BY d.runid DESC LIMIT $1) r0) r
) recent ON true
LEFT JOIN LATERAL (
  SELECT (d.status = 'succeeded')::int AS succeeded, extract(epoch FROM d.end_time - d.start_time) AS duration
  FROM {details} d WHERE d.jobid = j.jobid AND d.status IN ('succeeded', 'failed')
  ORDER BY d.runid DESC LIMIT 1
) fin ON true
LEFT JOIN LATERAL (
  SELECT d.end_time FROM {details} d WHERE d.jobid = j.jobid AND d.status = 'succeeded'
  ORDER BY d.runid DESC LIMIT 1
) ok ON true
)SQL";

constexpr std::array<MetricSpec, 6> kJobMetrics{{
    {"pg_cron_job_active", kGauge, "active", "1 when the pg_cron job is active (cron.job.active)."},
    {"pg_cron_job_last_run_success", kGauge, "last_run_success",
     "1 when the job's last finished run succeeded, 0 when it failed "
     "(cron.job_run_details.status)."},
    {"pg_cron_job_last_duration_seconds", kGauge, "last_duration",
     "Duration of the job's last finished run (end_time - start_time)."},
    {"pg_cron_job_last_success_timestamp_seconds", kGauge, "last_success",
     "End of the job's last successful run, Unix time (absent when it never succeeded)."},
    {"pg_cron_job_recent_failures", kGauge, "failures",
     "Failed runs among the job's last recent_runs runs (collector option, default 20)."},
    {"pg_cron_job_unfinished_runs", kGauge, "unfinished",
     "Runs among the last recent_runs with no start or no end time, the newest run excluded while "
     "it is in progress."},
}};

constexpr std::array<const char*, 3> kJobLabels{"datname", "jobid", "jobname"};

constexpr const char* kRetentionQuery = R"SQL(
SELECT current_database() AS datname,
       extract(epoch FROM last.finished_at) AS finished, last.rows_archived, last.rows_deleted,
       last.succeeded::int AS succeeded, extract(epoch FROM last.finished_at - last.started_at) AS duration,
       extract(epoch FROM last.started_at - last.cutoff) AS cutoff_age,
       CASE WHEN last.finished_at IS NOT NULL
            THEN (COALESCE(last.rows_deleted, 0) > COALESCE(last.rows_archived, 0))::int END AS deleted_more,
       (SELECT extract(epoch FROM max(finished_at)) FROM {table} WHERE succeeded) AS last_success
FROM (SELECT 1) one
LEFT JOIN LATERAL (SELECT * FROM {table} WHERE finished_at IS NOT NULL ORDER BY started_at DESC LIMIT 1) last ON true
)SQL";

constexpr std::array<MetricSpec, 8> kRetentionMetrics{{
    {"pg_retention_last_run_timestamp_seconds", kGauge, "finished",
     "End of the retention job's last finished run, Unix time (from its run record, "
     "target.retention.log_table)."},
    {"pg_retention_last_run_rows_archived", kGauge, "rows_archived",
     "Rows the last finished retention run copied to the archive."},
    {"pg_retention_last_run_rows_deleted", kGauge, "rows_deleted",
     "Rows the last finished retention run deleted."},
    {"pg_retention_last_run_success", kGauge, "succeeded",
     "1 when the last finished retention run succeeded, 0 when it failed."},
    {"pg_retention_last_run_duration_seconds", kGauge, "duration",
     "Duration of the last finished retention run."},
    {"pg_retention_last_run_deleted_more_than_archived", kGauge, "deleted_more",
     "1 when the last finished retention run deleted more rows than it archived (rows lost)."},
    {"pg_retention_last_success_timestamp_seconds", kGauge, "last_success",
     "End of the last successful retention run, Unix time."},
    {"pg_retention_last_run_cutoff_age_seconds", kGauge, "cutoff_age",
     "Age of the cutoff the last finished retention run deleted below, at its start (started_at - "
     "cutoff): rows younger than this were kept."},
}};

constexpr MetricSpec kKeep{
    "pg_retention_keep_seconds", kGauge, kComputed,
    "The configured retention (target.retention.keep): no run may delete rows younger than this."};
constexpr MetricSpec kMaxInterval{"pg_retention_max_interval_seconds", kGauge, kComputed,
                                  "The configured longest time between successful retention runs "
                                  "(target.retention.max_interval)."};

constexpr MetricSpec kInstalled{"pg_cron_installed", kGauge, kComputed,
                                "1 when the pg_cron extension is installed in this database."};
constexpr MetricSpec kInfo{"pg_cron_job_info", kGauge, kComputed,
                           "A pg_cron job: its schedule, database and user. Value 1."};
constexpr MetricSpec kOverdue{
    "pg_cron_job_overdue_seconds", kGauge, kComputed,
    "Seconds since the job should have started again according to its schedule (after its last "
    "start, or after the exporter first saw it if it never ran); 0 when on time or inactive."};
constexpr MetricSpec kScheduleValid{
    "pg_cron_job_schedule_valid", kGauge, kComputed,
    "1 when the exporter could parse the job's schedule (0: no overdue series for it)."};

constexpr std::array<const char*, 6> kInfoLabels{"datname",  "jobid",    "jobname",
                                                 "schedule", "database", "username"};

const OptionSpec kRecentRuns{
    .name = "recent_runs",
    .help = "How many of each job's newest runs count for recent failures and unfinished runs.",
    .default_value = 20.0};

class CronJobsCollector final : public Collector {
 public:
  Snapshot collect(Session& session, CollectContext& ctx) override {
    SnapshotBuilder out;
    const bool installed =
        !session.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'").empty();
    const std::string datname = current_database(session);
    emit(out, kInstalled, {{"datname", datname}}, installed ? 1 : 0);
    if (installed) emit_jobs(session, ctx, out);
    if (!ctx.target.retention.table.empty()) emit_retention(session, ctx, out);
    return out.take();
  }

 private:
  std::map<std::string, double> first_seen_;  // jobid -> database time the exporter first saw it

  void emit_jobs(Session& session, CollectContext& ctx, SnapshotBuilder& out) {
    std::string sql = migration::replace_all(
        kJobsQuery, "{job}",
        migration::quote_dotted(string_option(ctx, migration::kCronJobTableOption)));
    sql = migration::replace_all(
        sql, "{details}",
        migration::quote_dotted(string_option(ctx, migration::kCronRunDetailsOption)));
    const double recent = std::max(1.0, number_option(ctx, kRecentRuns));
    Rows rows = session.query(sql, {std::to_string(static_cast<long>(recent))});
    emit_rows(out, rows, kJobMetrics, kJobLabels);
    declare(out, {kInfo, kOverdue, kScheduleValid});
    std::map<std::string, double> seen;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const Labels labels = row_labels(rows, r, kJobLabels);
      emit(out, kInfo, row_labels(rows, r, kInfoLabels), 1);
      const double now = *rows.number(r, "now");
      const std::string jobid = rows.text(r, "jobid");
      auto prev = first_seen_.find(jobid);
      seen[jobid] = prev == first_seen_.end() ? now : prev->second;
      auto schedule = CronSchedule::parse(rows.text(r, "schedule"));
      emit(out, kScheduleValid, labels, schedule ? 1 : 0);
      if (!schedule) continue;
      const double base = rows.number(r, "last_start").value_or(seen[jobid]);
      emit(out, kOverdue, labels,
           rows.number(r, "active") == 1.0 ? overdue(*schedule, base, now) : 0);
    }
    first_seen_ = std::move(seen);
  }

  static double overdue(const CronSchedule& schedule, double base, double now) {
    using namespace std::chrono;
    const auto base_tp =
        system_clock::time_point{duration_cast<system_clock::duration>(duration<double>{base})};
    auto expected = schedule.next_after(base_tp);
    if (!expected) return 0;
    const double due = duration<double>(expected->time_since_epoch()).count();
    return std::max(0.0, now - due);
  }

  static void emit_retention(Session& session, CollectContext& ctx, SnapshotBuilder& out) {
    const std::string sql = migration::replace_all(
        kRetentionQuery, "{table}",
        quote_qualified(ctx.target.retention.table.schema, ctx.target.retention.table.name));
    Rows rows = session.query(sql);
    emit_rows(out, rows, kRetentionMetrics, std::array<const char*, 1>{"datname"});
    // The policy sits next to what the runs did, so that one rule compares them.
    const Labels datname{{"datname", rows.text(0, "datname")}};
    if (const auto& keep = ctx.target.retention.keep) emit(out, kKeep, datname, keep->count());
    if (const auto& every = ctx.target.retention.max_interval)
      emit(out, kMaxInterval, datname, every->count());
  }
};

}  // namespace

CollectorCode cron_jobs_code() {
  return {
      .options = {kRecentRuns, migration::kCronJobTableOption, migration::kCronRunDetailsOption},
      .make = make_collector<CronJobsCollector>};
}

}  // namespace pge
