// Small helpers shared by the migration collectors (promoted_columns, partitions, matviews,
// cron_jobs): reading collector options with defaults and quoting "schema.name" strings that come
// from the config. Header-only; no state.
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

inline std::string option(const CollectContext& ctx, const std::string& name, const std::string& fallback) {
  auto it = ctx.settings.strings.find(name);
  return it == ctx.settings.strings.end() || it->second.empty() ? fallback : it->second;
}

inline double option(const CollectContext& ctx, const std::string& name, double fallback) {
  auto it = ctx.settings.numbers.find(name);
  return it == ctx.settings.numbers.end() ? fallback : it->second;
}

inline bool flag(const CollectContext& ctx, const std::string& name) {
  auto it = ctx.settings.flags.find(name);
  return it != ctx.settings.flags.end() && it->second;
}

// pg_cron's tables have row-level security (a role sees its own jobs only), so a deployment may
// point the exporter at superuser-owned views over them instead (the reference database's ops.*).
inline const OptionSpec kCronJobTableOption{
    "cron_job_table", OptionType::String,
    "Relation read instead of cron.job (e.g. a view without pg_cron's row-level security)."};
inline const OptionSpec kCronRunDetailsOption{
    "cron_run_details_table", OptionType::String,
    "Relation read instead of cron.job_run_details (e.g. a view without pg_cron's row-level security)."};

}  // namespace pge::migration
