#!/usr/bin/env python3
"""Writes the Grafana dashboards grafana/pg_evolution_*.json (run it after editing; commit both).

The panels live here as data so that the four dashboards share one layout, one datasource variable
and the `job`, `instance` and `target` variables instead of four hand-edited copies of Grafana's
JSON. Every dashboard selects its Prometheus through the `datasource` template variable (no
datasource uid is written), so it works on import into any Grafana >= 9 and with file provisioning.
The output is type-checked against Grafana's published schema (@grafana/schema) by
tests/shell/test_grafana_schema.sh; threshold steps that mirror an alert are read from the rules.
"""
import json
import pathlib
import re

import yaml

DS = {"type": "prometheus", "uid": "${datasource}"}
T = 'job=~"$job",instance=~"$instance",target=~"$target"'
RI = "$__rate_interval"


RULES = pathlib.Path(__file__).resolve().parent.parent / "alerts" / "pg_evolution.rules.yml"


def alert_threshold(alertname):
    """The constant an alert compares its first series with (`x > 900`, `x < 7 * 86400`), so that
    a panel's red line sits where the alert fires."""
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alertname:
                m = re.search(r"[<>]=?\s*([0-9.e]+)(?:\s*\*\s*([0-9.e]+))?", rule["expr"])
                value = float(m.group(1)) * float(m.group(2) or 1)
                return int(value) if value == int(value) else value
    raise KeyError(f"no alert {alertname} in {RULES}")


def q(expr, legend="", instant=False):
    target = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ""}
    if instant:
        target.update(instant=True, range=False, format="table")
    return target


# Legends as a table with the last and the largest value: a regression shows as a number, not as a
# colour among twenty lines.
LEGEND = {"displayMode": "table", "placement": "bottom", "showLegend": True, "calcs": ["lastNotNull", "max"]}
PANEL_OPTIONS = {
    "timeseries": {"legend": LEGEND, "tooltip": {"mode": "multi", "sort": "desc"}},
    "stat": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
             "colorMode": "value", "graphMode": "none", "textMode": "auto"},
    "bargauge": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True},
    "table": {"showHeader": True},
}


def panel(title, kind, targets, unit="short", w=12, h=8, description="", thresholds=None,
          mappings=None, max_value=None):
    """thresholds: [(value, colour)], the first value None (the base). Without them the panel has a
    single green step, so every panel carries a threshold block Grafana can edit."""
    steps = thresholds or [(None, "green")]
    defaults = {"unit": unit, "thresholds": {"mode": "absolute", "steps": [
        {"color": c, "value": v} for v, c in steps]}}
    if thresholds:
        defaults["color"] = {"mode": "thresholds"}
    if kind == "timeseries" and thresholds:
        defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
    if mappings:
        defaults["mappings"] = mappings
    if max_value is not None:
        defaults["max"] = max_value
    for i, t in enumerate(targets):
        t["refId"] = chr(ord("A") + i)
    p = {"type": kind, "title": title, "description": description, "datasource": DS,
         "targets": targets, "fieldConfig": {"defaults": defaults, "overrides": []},
         "gridPos": {"w": w, "h": h}, "options": json.loads(json.dumps(PANEL_OPTIONS[kind]))}
    if kind == "table":
        p["transformations"] = [{"id": "merge", "options": {}},
                                {"id": "organize", "options": {"excludeByName": {"Time": True}}}]
    return p


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"w": 24, "h": 1}}


def above(alertname, colour="red"):
    return [(None, "green"), (alert_threshold(alertname), colour)]


OK_BAD = [(None, "red"), (1, "green")]  # 1 = good
BAD_OK = [(None, "green"), (1, "red")]  # any positive count = bad
YES_NO = [{"type": "value", "options": {"0": {"text": "NO", "color": "red"},
                                        "1": {"text": "YES", "color": "green"}}}]


def overview():
    return [
        row("Targets"),
        panel("PostgreSQL up", "stat", [q(f"pg_up{{{T}}}", "{{target}}")], w=6, thresholds=OK_BAD,
              mappings=[{"type": "value", "options": {"0": {"text": "DOWN"}, "1": {"text": "UP"}}}]),
        panel("Firing alerts", "table",
              [q(f'ALERTS{{alertstate="firing",{T}}}', instant=True)], w=18,
              description="Alerts of alerts/pg_evolution.rules.yml now firing for the selected targets."),
        row("Collector health"),
        panel("Collector success", "table",
              [q(f"pg_evolution_exporter_collector_success{{{T}}}", instant=True),
               q(f"time() - pg_evolution_exporter_collector_last_success_timestamp_seconds{{{T}}}", instant=True)],
              description="Value #A: last run succeeded (1). Value #B: seconds since the last success."),
        panel("Collector duration", "timeseries",
              [q(f"pg_evolution_exporter_collector_duration_seconds{{{T}}}", "{{target}} {{collector}}")], unit="s"),
        panel("Collector errors and lock skips", "timeseries",
              [q(f"rate(pg_evolution_exporter_collector_errors_total{{{T}}}[{RI}])", "errors {{target}} {{collector}}"),
               q(f"rate(pg_evolution_exporter_collector_lock_skips_total{{{T}}}[{RI}])", "lock skips {{target}} {{collector}}"),
               q(f"rate(pg_evolution_exporter_collector_lock_timeouts_total{{{T}}}[{RI}])", "lock timeouts {{target}} {{collector}}")],
              unit="ops"),
        panel("Series per collector", "timeseries",
              [q(f"pg_evolution_exporter_collector_series{{{T}}}", "{{target}} {{collector}}")]),
        row("Database"),
        panel("Cache hit ratio", "timeseries",
              [q(f"datname:pg_cache_hit_ratio:rate5m{{{T}}}", "{{target}} {{datname}}")], unit="percentunit",
              thresholds=[(None, "red"), (alert_threshold("PostgresCacheHitRatioLow"), "green")]),
        panel("Transactions per second", "timeseries",
              [q(f"rate(pg_stat_database_xact_commit_total{{{T}}}[{RI}])", "commit {{target}} {{datname}}"),
               q(f"rate(pg_stat_database_xact_rollback_total{{{T}}}[{RI}])", "rollback {{target}} {{datname}}")],
              unit="ops"),
        panel("Connections by state", "timeseries",
              [q(f"sum by (target, datname, state) (pg_stat_activity_connections{{{T}}})", "{{target}} {{state}}")]),
        panel("Oldest transaction, longest query, lock waits", "timeseries",
              [q(f"pg_stat_activity_oldest_xact_age_seconds{{{T}}}", "oldest xact {{target}}"),
               q(f"pg_stat_activity_longest_query_seconds{{{T}}}", "longest query {{target}}")], unit="s"),
        panel("Sessions waiting on locks", "timeseries",
              [q(f"pg_stat_activity_waiting_on_locks{{{T}}}", "{{target}} {{datname}}")]),
        panel("Deadlocks per hour", "timeseries",
              [q(f"increase(pg_stat_database_deadlocks_total{{{T}}}[1h])", "{{target}} {{datname}}")],
              thresholds=BAD_OK,
              description="A migration that takes locks in another order than the application shows here first."),
        panel("Database size", "timeseries",
              [q(f"pg_database_size_bytes{{{T}}}", "{{target}} {{datname}}")], unit="bytes"),
    ]


def quantiles(metric, by, legend, extra=""):
    sel = f"{T}{extra}"
    return [q(f"histogram_quantile({p}, sum by ({by}, le) (rate({metric}_bucket{{{sel}}}[{RI}])))",
              f"p{int(p * 100)} {legend}") for p in (0.5, 0.95, 0.99)]


def latency():
    cls = ',class=~"$class"'
    return [
        row("Statements by query class (estimated from pg_stat_statements)"),
        panel("p50 / p95 / p99 by class and command", "timeseries",
              quantiles("pg_stat_statements_duration_seconds", "target, class, command",
                        "{{class}} {{command}}", cls), unit="s", w=24, h=10),
        panel("p95 now vs yesterday vs the 7-day median", "timeseries",
              [q(f"class:pg_stat_statements_duration_seconds:p95_rate5m{{{T}{cls}}}", "now {{class}}"),
               q(f"class:pg_stat_statements_duration_seconds:p95_rate5m_baseline1d{{{T}{cls}}}", "yesterday {{class}}"),
               q(f"class:pg_stat_statements_duration_seconds:p95_rate1h_median7d{{{T}{cls}}}", "7-day median {{class}}")],
              unit="s", description="The regression alerts fire at +20% (reads) and +30% (writes) over yesterday for "
                                    "15 minutes (and page after an hour); PostgresLatencyDrift at +15% over the median "
                                    "of the same hour on the 7 days before, for 6 hours."),
        panel("Hourly p95 against the 7-day median (1 = no change)", "timeseries",
              [q(f"class:pg_stat_statements_duration_seconds:p95_rate1h{{{T}{cls}}}"
                 f" / class:pg_stat_statements_duration_seconds:p95_rate1h_median7d{{{T}{cls}}}", "{{class}} {{command}}")],
              unit="percentunit", thresholds=[(None, "green"), (1.15, "red")],
              description="A slow drift over days shows here while the day-over-day comparison stays flat."),
        panel("Phase 3 stages ([[target.stage]])", "table",
              [q(f"pg_evolution_stage_started_timestamp_seconds{{{T}}} * 1000", instant=True),
               q(f"pg_evolution_stage_ended_timestamp_seconds{{{T}}} * 1000", instant=True)],
              unit="dateTimeAsIso", w=24, h=5,
              description="Value #A: when the stage started, Value #B: when it ended (empty while it runs). Read the "
                          "panels above from its start: the 7-day median there is the week before the stage."),
        panel("Calls per second by class", "timeseries",
              [q(f"sum by (target, class, command) (rate(pg_stat_statements_calls_total{{{T}{cls}}}[{RI}]))",
                 "{{class}} {{command}}")], unit="ops"),
        panel("Mean duration by class", "timeseries",
              [q(f"sum by (target, class) (rate(pg_stat_statements_duration_seconds_sum{{{T}{cls}}}[{RI}]))"
                 f" / sum by (target, class) (rate(pg_stat_statements_duration_seconds_count{{{T}{cls}}}[{RI}]))",
                 "{{class}}")], unit="s"),
        panel("pg_stat_statements evictions and lost calls", "timeseries",
              [q(f"increase(pg_stat_statements_dealloc_total{{{T}}}[1h])", "evictions/h {{target}}"),
               q(f"rate(pg_stat_statements_lost_calls_total{{{T}}}[{RI}])", "lost calls/s {{target}}")]),
        row("Probes (timed by the exporter)"),
        panel("Canary query probes", "timeseries",
              quantiles("pg_probe_duration_seconds", "target, probe", "{{probe}}"), unit="s"),
        panel("Write probe (INSERT + COMMIT)", "timeseries",
              quantiles("pg_write_probe_duration_seconds", "target", "{{target}}"), unit="s"),
        panel("Probe errors per hour", "timeseries",
              [q(f"increase(pg_probe_errors_total{{{T}}}[1h])", "{{target}} {{probe}}"),
               q(f"increase(pg_write_probe_errors_total{{{T}}}[1h])", "write probe {{target}}")],
              thresholds=BAD_OK, w=24, h=6,
              description="Failed canary runs (statement timeout included): a probe that fails has no latency."),
        row("WAL"),
        panel("Mean WAL sync time", "timeseries",
              [q(f"target:pg_stat_wal_sync_duration_seconds:mean_rate5m{{{T}}}", "{{target}}")], unit="s"),
        panel("WAL syncs per second", "timeseries",
              [q(f"rate(pg_stat_wal_sync_total{{{T}}}[{RI}])", "{{target}}")], unit="ops"),
    ]


def migration():
    return [
        row("Promoted JSONB columns (dual-write, cutover under 1% NULL)"),
        panel("Cutover ready", "stat",
              [q(f"pg_promoted_column_cutover_ready{{{T}}}", "{{relname}}.{{column}}")], w=8,
              mappings=YES_NO, thresholds=OK_BAD,
              description="YES when the missing ratio is under the cutover threshold, no row disagrees with "
                          "the JSONB source, the column's constraints and index are valid and dual-writing has "
                          "been proven clean for cutover_min_clean."),
        panel("Missing ratio (all rows, recent rows)", "timeseries",
              [q(f"pg_promoted_column_missing_ratio{{{T}}}", "all {{relname}}.{{column}}"),
               q(f"pg_promoted_column_recent_missing_ratio{{{T}}}", "recent {{relname}}.{{column}}")],
              unit="percentunit", w=16, thresholds=[(None, "green"), (0.01, "red")],
              description="Red from 1% (the cutover threshold); the recent ratio alerts above "
                          f"{alert_threshold('PromotedColumnDualWriteBroken')} (PromotedColumnDualWriteBroken)."),
        panel("Backfill: rows checked, missing, written recently", "timeseries",
              [q(f"pg_promoted_column_checked_rows{{{T}}}", "checked {{relname}}.{{column}}"),
               q(f"pg_promoted_column_missing_rows{{{T}}}", "missing {{relname}}.{{column}}"),
               q(f"pg_promoted_column_recent_rows{{{T}}}", "recent {{relname}}.{{column}}")], w=12),
        panel("Rollback safety: rows with the column but no JSON value", "timeseries",
              [q(f"pg_promoted_column_json_missing_rows{{{T}}}", "all {{relname}}.{{column}}"),
               q(f"pg_promoted_column_recent_json_missing_rows{{{T}}}", "recent {{relname}}.{{column}}")],
              w=12, thresholds=BAD_OK,
              description="The rollback reads the JSONB path again: these rows would lose their value "
                          "(PromotedColumnJsonMissing). The recent series shows whether a writer still does it."),
        panel("Proven clean dual-write vs cutover_min_clean", "timeseries",
              [q(f"pg_promoted_column_clean_seconds{{{T}}}", "clean {{relname}}.{{column}}"),
               q(f"pg_promoted_column_cutover_min_clean_seconds{{{T}}}", "required {{relname}}.{{column}}")],
              unit="s", w=12,
              description="Since the oldest row written with the column set after the newest missing row; "
                          "cutover waits until it reaches the configured cutover_min_clean."),
        panel("NULL ratio (pg_stats and measured)", "timeseries",
              [q(f"pg_promoted_column_null_ratio{{{T}}}", "{{method}} {{relname}}.{{column}}")],
              unit="percentunit", w=12,
              description="Counts rows whose JSON has no value too, so it need not reach the cutover threshold; "
                          "the missing ratio is the gate."),
        panel("Index, timestamp index, full check age, pg_stats age", "table",
              [q(f"pg_promoted_column_index_valid{{{T}}}", instant=True),
               q(f"pg_promoted_column_timestamp_indexed{{{T}}}", instant=True),
               q(f"time() - pg_promoted_column_full_check_timestamp_seconds{{{T}}}", instant=True),
               q(f"pg_promoted_column_stats_age_seconds{{{T}}}", instant=True)], w=24,
              description="Value #A: the column's index is valid (1). Value #B: recent rows are counted through an "
                          "index on the timestamp column (1). Value #C: seconds since the last full check. "
                          "Value #D: age of the pg_stats figures."),
        panel("Rows disagreeing with JSONB / invalid / constraint validated", "table",
              [q(f"pg_promoted_column_mismatch_rows{{{T}}}", instant=True),
               q(f"pg_promoted_column_invalid_rows{{{T}}}", instant=True),
               q(f"pg_promoted_column_constraint_valid{{{T}}}", instant=True)], w=24,
              description="Value #A: mismatching rows. Value #B: invalid rows. Value #C: constraint VALID (1)."),
        row("Partitions"),
        panel("Partition runway", "bargauge",
              [q(f"pg_partitioned_table_runway_seconds{{{T}}}", "{{schemaname}}.{{relname}}")], unit="s",
              w=8, thresholds=[(None, "red"), (alert_threshold("PartitionRunwayCritical"), "orange"),
                               (alert_threshold("PartitionRunwayLow"), "green")]),
        panel("Rows in DEFAULT partition", "stat",
              [q(f"pg_partitioned_table_default_rows{{{T}}}", "{{relname}}")], w=4, thresholds=BAD_OK),
        panel("Partitions", "stat",
              [q(f"pg_partitioned_table_partitions{{{T}}}", "{{relname}}")], w=4,
              thresholds=[(None, "green"), (alert_threshold("PartitionCountHigh") + 1, "orange")]),
        panel("Gaps / invalid partition indexes", "stat",
              [q(f"pg_partitioned_table_gaps{{{T}}}", "gaps {{relname}}"),
               q(f"pg_partitioned_table_invalid_indexes{{{T}}}", "invalid idx {{relname}}")], w=8,
              thresholds=BAD_OK),
        panel("Data migration: rows in the partitioned table", "timeseries",
              [q(f"pg_partitioned_table_live_rows{{{T}}}", "partitioned {{relname}}"),
               q(f"pg_table_estimated_rows{{{T}}}", "estimated {{relname}}")]),
        panel("pg_partman: config readable, premake, retention", "table",
              [q(f"pg_partman_config_readable{{{T}}}", instant=True),
               q(f"pg_partman_premake{{{T}}}", instant=True),
               q(f"pg_partman_retention_seconds{{{T}}}", instant=True)],
              description="Value #A: part_config readable (1). Value #B: premake. Value #C: retention in seconds."),
        row("Growth against the partitioning thresholds"),
        panel("Estimated rows, 30-day forecast, threshold", "timeseries",
              [q(f"pg_table_estimated_rows{{{T}}}", "rows {{relname}}"),
               q(f"predict_linear(pg_table_estimated_rows{{{T}}}[6h], 30 * 86400)", "in 30 days {{relname}}"),
               q(f"pg_table_rows_threshold{{{T}}}", "threshold {{relname}}")]),
        panel("Table size and growth per day", "timeseries",
              [q(f"pg_table_total_bytes{{{T}}}", "{{relname}}"),
               q(f"deriv(pg_table_total_bytes{{{T}}}[1h]) * 86400", "growth/day {{relname}}")], unit="bytes"),
        row("Jobs: dashboard_statistics refresh, pg_cron, retention"),
        panel("Matview staleness", "timeseries",
              [q(f"pg_matview_staleness_seconds{{{T}}}", "{{schemaname}}.{{relname}}")], unit="s",
              thresholds=above("MatviewStale")),
        panel("Matview populated / last refresh succeeded", "stat",
              [q(f"pg_matview_populated{{{T}}}", "populated {{relname}}"),
               q(f"pg_matview_last_refresh_success{{{T}}}", "refreshed {{relname}}")], mappings=YES_NO,
              thresholds=OK_BAD),
        panel("Matview refresh duration", "timeseries",
              [q(f"pg_matview_last_refresh_duration_seconds{{{T}}}", "{{relname}} ({{source}})")], unit="s", w=24,
              thresholds=[(None, "green"), (300, "red")],
              description="Must stay well under the 300 s refresh period, or refreshes pile up."),
        panel("pg_cron jobs", "table",
              [q(f"pg_cron_job_last_run_success{{{T}}}", instant=True),
               q(f"pg_cron_job_recent_failures{{{T}}}", instant=True),
               q(f"pg_cron_job_overdue_seconds{{{T}}}", instant=True),
               q(f"pg_cron_job_unfinished_runs{{{T}}}", instant=True)], w=18,
              description="Value #A: last run succeeded (1). Value #B: recent failed runs. Value #C: seconds overdue "
                          f"(CronJobOverdue above {alert_threshold('CronJobOverdue')} s). Value #D: runs without an end time."),
        panel("pg_cron installed", "stat",
              [q(f"pg_cron_installed{{{T}}}", "{{datname}}")], w=6, mappings=YES_NO, thresholds=OK_BAD),
        panel("Retention: last run", "timeseries",
              [q(f"pg_retention_last_run_rows_archived{{{T}}}", "archived {{target}}"),
               q(f"pg_retention_last_run_rows_deleted{{{T}}}", "deleted {{target}}")]),
        panel("Retention: cutoff age of the last run vs the policy", "timeseries",
              [q(f"pg_retention_last_run_cutoff_age_seconds{{{T}}}", "last run's cutoff age {{datname}}"),
               q(f"pg_retention_keep_seconds{{{T}}}", "policy (keep) {{datname}}"),
               q(f"time() - pg_retention_last_success_timestamp_seconds{{{T}}}", "since last success {{datname}}"),
               q(f"pg_retention_max_interval_seconds{{{T}}}", "max interval {{datname}}")], unit="s",
              description="A cutoff age under the policy means the run deleted rows the policy keeps "
                          "(RetentionCutoffTooShort pages)."),
        panel("Retention: last run succeeded / deleted more than archived", "stat",
              [q(f"pg_retention_last_run_success{{{T}}}", "succeeded {{datname}}"),
               q(f"pg_retention_last_run_deleted_more_than_archived{{{T}}}", "deleted > archived {{datname}}")],
              description="Succeeded should be 1, deleted > archived 0 (1: rows deleted without an archive copy)."),
    ]


def storage():
    rel = f'{T},relname=~"$relname"'
    return [
        row("Bloat and vacuum"),
        panel("Index bloat (share of table size)", "bargauge",
              [q(f"pg_index_bloat_table_ratio{{{rel}}}", "{{relname}}.{{indexrelname}} ({{method}})")],
              unit="percentunit", thresholds=above("PostgresIndexBloatHigh"), max_value=1),
        panel("Table bloat", "bargauge",
              [q(f"pg_table_bloat_ratio{{{rel}}}", "{{schemaname}}.{{relname}}")], unit="percentunit", max_value=1),
        panel("Dead tuples", "timeseries",
              [q(f"pg_stat_user_tables_n_dead_tup{{{rel}}}", "{{relname}}")]),
        panel("Dead tuple ratio", "timeseries",
              [q(f"pg_stat_user_tables_dead_tuple_ratio{{{rel}}}", "{{relname}}")], unit="percentunit"),
        panel("Time since last autovacuum", "bargauge",
              [q(f"time() - (pg_stat_user_tables_last_autovacuum{{{rel}}} > 0)", "{{relname}}")], unit="s"),
        panel("Table frozen XID age", "bargauge",
              [q(f"pg_table_frozen_xid_age{{{rel}}}", "{{relname}}")]),
        row("Updates and indexes"),
        panel("HOT update ratio", "timeseries",
              [q(f"pg_table_hot_update_ratio{{{rel}}}", "{{relname}}"),
               q(f"rate(pg_stat_user_tables_n_tup_hot_upd_total{{{rel}}}[{RI}])"
                 f" / (rate(pg_stat_user_tables_n_tup_upd_total{{{rel}}}[{RI}]) > 0)", "now {{relname}}")],
              unit="percentunit"),
        panel("Index writes per row change", "bargauge",
              [q(f"pg_table_index_writes_per_row_change{{{rel}}}", "{{relname}}")],
              description="The seed's write amplification: index entries written per inserted, updated or deleted row."),
        panel("Indexes per table", "bargauge",
              [q(f"count by (target, schemaname, relname) (pg_index_info{{{rel}}})", "{{relname}}")]),
        panel("Index scans per second", "timeseries",
              [q(f"rate(pg_stat_user_indexes_idx_scan_total{{{rel}}}[{RI}])", "{{relname}}.{{indexrelname}}")],
              unit="ops"),
        panel("Index entries read per second", "timeseries",
              [q(f"rate(pg_stat_user_indexes_idx_tup_read_total{{{rel}}}[{RI}])", "{{relname}}.{{indexrelname}}")],
              unit="ops"),
        panel("Sequential vs index scans", "timeseries",
              [q(f"rate(pg_stat_user_tables_seq_scan_total{{{rel}}}[{RI}])", "seq {{relname}}"),
               q(f"rate(pg_stat_user_tables_idx_scan_total{{{rel}}}[{RI}])", "idx {{relname}}")], unit="ops"),
        panel("Unused indexes (idx_scan = 0 since stats reset)", "table",
              [q(f"pg_stat_user_indexes_size_bytes{{{rel}}}"
                 f" and on (job, instance, target, datname, schemaname, relname, indexrelname)"
                 f" (pg_stat_user_indexes_idx_scan_total{{{rel}}} == 0)", instant=True)], unit="bytes"),
        panel("Invalid indexes", "table",
              [q(f"pg_index_valid{{{rel}}} == 0", instant=True)]),
        panel("Table and index sizes", "timeseries",
              [q(f"pg_stat_user_tables_table_size_bytes{{{rel}}}", "table {{relname}}"),
               q(f"pg_stat_user_tables_index_size_bytes{{{rel}}}", "indexes {{relname}}")], unit="bytes"),
        row("Triggers"),
        panel("updated_at trigger functions", "stat",
              [q(f"pg_updated_at_trigger_functions{{{T}}}", "{{target}} functions"),
               q(f"pg_updated_at_trigger_per_table_functions{{{T}}}", "{{target}} single-table")], w=12,
              thresholds=[(None, "green"), (2, "orange")],
              description="The Phase 3 plan keeps one shared function: more than one function, or any single-table one, means the consolidation is incomplete."),
        panel("track_functions enabled", "stat",
              [q(f"pg_settings_track_functions_enabled{{{T}}}", "{{target}}")], w=12, mappings=YES_NO,
              thresholds=OK_BAD),
        panel("Tables whose updated_at triggers are not exactly one", "table",
              [q(f"pg_updated_at_column_triggers{{{rel}}} != 1", instant=True)], w=12,
              description="Per table with an updated_at column: triggers that set it. 0 = missing "
                          "(UpdatedAtTriggerMissing), 2+ = duplicate (UpdatedAtTriggerDuplicate); "
                          "both alert once the trigger_consolidation stage has started."),
        panel("Unused updated_at trigger functions", "stat",
              [q(f"pg_updated_at_unused_functions{{{T}}}", "{{target}}")], w=12,
              thresholds=[(None, "green"), (1, "orange")],
              description="Trigger functions that set updated_at with no trigger left: the stage "
                          "ends by dropping them (UpdatedAtTriggerFunctionLeftover after ended_at)."),
    ]


ALL = {"selected": True, "text": ["All"], "value": ["$__all"]}


def query_variable(name, label, metric, selector):
    definition = f"label_values({metric}{{{selector}}}, {name})" if selector else f"label_values({metric}, {name})"
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": definition, "refId": name}, "refresh": 2,
            "multi": True, "includeAll": True, "allValue": ".*", "current": dict(ALL), "options": [],
            "sort": 1, "hide": 0}


def variables(extra):
    """datasource, then job -> instance -> target (each narrowed by the ones before), then the
    dashboard's own. Multi-value with All selected, so a fresh import shows every target."""
    ds = {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
          "hide": 0, "refresh": 1, "options": []}
    out = [ds,
           query_variable("job", "Job", "pg_up", ""),
           query_variable("instance", "Instance", "pg_up", 'job=~"$job"'),
           query_variable("target", "Target", "pg_up", 'job=~"$job",instance=~"$instance"')]
    out += [query_variable(name, name, metric, T) for name, metric in extra]
    return out


PANEL_NAMES = {"timeseries": "Time series", "stat": "Stat", "table": "Table", "bargauge": "Bar gauge"}


def requires(panels):
    """__requires, as Grafana's "Export for sharing externally" writes it: the import dialog checks
    the Grafana version and the plugins before it creates the dashboard."""
    kinds = sorted({p["type"] for p in panels if p["type"] != "row"})
    return ([{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.0.0"},
             {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}]
            + [{"type": "panel", "id": k, "name": PANEL_NAMES[k], "version": ""} for k in kinds])


def layout(panels):
    x = y = row_h = 0
    for i, p in enumerate(panels, start=1):
        p["id"] = i
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y = 0, y + row_h
            row_h = 0
        p["gridPos"].update(x=x, y=y)
        x += w
        row_h = max(row_h, h)
        if p["type"] == "row":
            x, y, row_h = 0, y + h, 0
    return panels


def dashboard(uid, title, panels, extra_vars=()):
    return {
        "__requires": requires(panels),
        "uid": uid, "title": title, "tags": ["postgresql", "pg_evolution_exporter"],
        "timezone": "browser", "schemaVersion": 37, "version": 1, "editable": True,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
        "templating": {"list": variables(extra_vars)},
        "annotations": {"list": []},
        "links": [{"title": "pg_evolution dashboards", "type": "dashboards", "tags": ["pg_evolution_exporter"],
                   "asDropdown": True, "icon": "external link", "includeVars": True, "keepTime": True,
                   "targetBlank": False, "tooltip": ""}],
        "panels": layout(panels),
    }


DASHBOARDS = {
    "pg_evolution_overview.json": dashboard("pge-overview", "PostgreSQL evolution: overview", overview()),
    "pg_evolution_latency.json": dashboard(
        "pge-latency", "PostgreSQL evolution: latency", latency(),
        [("class", "pg_stat_statements_duration_seconds_count")]),
    "pg_evolution_migration.json": dashboard("pge-migration", "PostgreSQL evolution: Phase 3 migration", migration()),
    "pg_evolution_storage.json": dashboard(
        "pge-storage", "PostgreSQL evolution: storage and indexes", storage(),
        [("relname", "pg_stat_user_tables_total_size_bytes")]),
}

if __name__ == "__main__":
    here = pathlib.Path(__file__).resolve().parent
    for name, board in DASHBOARDS.items():
        (here / name).write_text(json.dumps(board, indent=2) + "\n")
        print(f"wrote grafana/{name}")
