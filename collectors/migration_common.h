// Small helpers shared by the migration collectors (promoted_columns, partitions, matviews,
// cron_jobs): quoting "schema.name" strings that come from the config, and the pg_cron table
// options. Header-only; no state.
#pragma once

#include <string>

#include "collectors/collector.h"

namespace pge::migration {

// "schema.name" (or "name") from the config, quoted for SQL. Splits at the first dot, as the config
// loader does for table names.
inline std::string quote_dotted(const std::string& name) {
  const auto dot = name.find('.');
  if (dot == std::string::npos) return quote_ident(name);
  return quote_qualified(name.substr(0, dot), name.substr(dot + 1));
}

// `text` with every `what` replaced by `with` (SQL templates with {table}-style holes).
inline std::string replace_all(std::string text, const std::string& what, const std::string& with) {
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
  return text;
}

// pg_cron's tables have row-level security (a role sees its own jobs only), so a deployment may
// point the exporter at superuser-owned views over them instead (the reference database's ops.*).
inline const OptionSpec kCronJobTableOption{
    .name = "cron_job_table",
    .help = "Relation read instead of cron.job (e.g. a view without pg_cron's row-level security).",
    .default_value = std::string("cron.job")};
inline const OptionSpec kCronRunDetailsOption{
    .name = "cron_run_details_table",
    .help =
        "Relation read instead of cron.job_run_details (e.g. a view without pg_cron's row-level "
        "security).",
    .default_value = std::string("cron.job_run_details")};

}  // namespace pge::migration
