// What one scrape of /metrics (or /probe) sends: the stored serialized snapshots of a store view
// merged by family name (HELP and TYPE once per family; a family stored under another type by a
// second collector is a collector bug and is left out rather than producing an invalid scrape),
// plus the exporter's self-metrics (build info, pg_up, per-collector status). Pure functions of the
// view, called on HTTP threads; cost is a copy of the stored bytes.
#pragma once

#include <string>

#include "exporter/store.h"

namespace pge {

// The text exposition format. `process` (the process_* families, on /metrics only: a /probe page
// describes one database, not the exporter's process) is merged in like any stored snapshot.
std::string render_text(const SnapshotStore::View& view, const SerializedSnapshot& process = {});
// The same bytes as one gzip member (Content-Encoding: gzip).
std::string render_gzip(const SnapshotStore::View& view, const SerializedSnapshot& process = {});

}  // namespace pge
