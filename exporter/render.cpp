#include "exporter/render.h"

#include <zlib.h>

#include <algorithm>
#include <vector>

namespace pge {
namespace {

constexpr const char* kNs = "pg_evolution_exporter_";

void add_target_metrics(SnapshotBuilder& out, const std::string& target, const TargetState& state) {
  out.gauge(
      "pg_up",
      "Whether the target database answers (1) or not (0): connected, and no statement past its "
      "client deadline.",
      {{"target", target}}, state.up && !state.stalled ? 1 : 0);
  const char* deadline_help =
      "Statements that passed their client deadline (statement timeout + margin): cancel = cancel "
      "request sent, disconnect = still no answer a margin later, connection dropped.";
  const std::string name = std::string(kNs) + "client_deadline_exceeded_total";
  out.counter(name, deadline_help, {{"action", "cancel"}, {"target", target}},
              state.deadline_cancels_total);
  out.counter(name, deadline_help, {{"action", "disconnect"}, {"target", target}},
              state.deadline_disconnects_total);
}

void add_freshness_metrics(SnapshotBuilder& out, const Labels& l, const CollectorStatus& st) {
  const std::string ns = kNs;
  out.gauge(ns + "collector_effective_interval_seconds",
            "Interval the collector runs at: the configured one, or longer when the target's "
            "collectors would keep its connection busy beyond exporter.duty_cycle.",
            l, st.effective_interval_seconds);
  out.gauge(ns + "collector_staleness_limit_seconds",
            "Age of the collector's last success after which its snapshot is no longer served "
            "(3 x effective interval + timeout).",
            l, st.staleness_limit_seconds);
  out.gauge(
      ns + "collector_stale",
      "1 when the collector's last success is older than its staleness limit (its series are not "
      "served).",
      l, st.stale ? 1 : 0);
  const char* skipped_help =
      "Relations the collector left out or only estimated, by reason (locked: ACCESS EXCLUSIVE "
      "lock; "
      "insufficient_privilege: the role may not read it).";
  auto with_reason = [&](const std::string& reason) {
    Labels labels = l;
    labels.emplace_back("reason", reason);
    return labels;
  };
  out.counter(ns + "collector_relations_skipped_total", skipped_help, with_reason("locked"),
              st.lock_skips_total);
  for (const auto& [reason, n] : st.relations_skipped_total) {
    out.counter(ns + "collector_relations_skipped_total", skipped_help, with_reason(reason), n);
  }
}

SerializedSnapshot self_metrics(const SnapshotStore::View& view) {
  SnapshotBuilder out;
  const std::string ns = kNs;
  out.gauge(ns + "build_info", "Version and revision of pg_evolution_exporter, constant 1.",
            {{"revision", PGE_REVISION}, {"version", PGE_VERSION}}, 1);
  for (const auto& [target, state] : view) {
    add_target_metrics(out, target, state);
    out.gauge(ns + "series_budget",
              "Most series the target may export (target.series_budget; 0 = no budget).",
              {{"target", target}}, static_cast<double>(state.series_budget));
    for (const auto& [collector, st] : state.collectors) {
      const Labels l{{"collector", collector}, {"target", target}};
      out.gauge(ns + "collector_success",
                "Whether the collector's last run succeeded (1) or failed (0).", l,
                st.success ? 1 : 0);
      out.gauge(ns + "collector_duration_seconds",
                "Wall-clock duration of the collector's last run, database time included.", l,
                st.duration_seconds);
      out.gauge(ns + "collector_last_success_timestamp_seconds",
                "Unix time of the collector's last successful run (0 = never).", l,
                st.last_success_unix);
      out.counter(ns + "collector_errors_total",
                  "Failed runs of the collector since the exporter started.", l, st.errors_total);
      out.gauge(ns + "collector_series", "Series produced by the collector's last successful run.",
                l, static_cast<double>(st.series));
      out.counter(
          ns + "collector_lock_skips_total",
          "Relations the collector left out because another session held or awaited an ACCESS "
          "EXCLUSIVE lock on them.",
          l, st.lock_skips_total);
      out.counter(ns + "collector_lock_timeouts_total",
                  "Collector runs that ended at lock_timeout.", l, st.lock_timeouts_total);
      add_freshness_metrics(out, l, st);
      out.gauge(
          ns + "series_dropped",
          "Per-relation series the collector's last successful run left out to keep the target "
          "within its series budget (folded into per-schema rollups).",
          l, static_cast<double>(st.series_dropped));
    }
  }
  return serialize_snapshot(out.take());
}

// A piece of the page: one family block's text and the same bytes as a deflate piece.
struct PagePiece {
  const std::string* text;
  const DeflatePiece* gz;
};

// The page in order: per family name, the first block's header, then the samples of every block of
// that name and type. The pieces point into `self`, `process` and the snapshots of `view`.
std::vector<PagePiece> page_pieces(const SnapshotStore::View& view, const SerializedSnapshot& self,
                                   const SerializedSnapshot& process) {
  std::vector<const FamilyBytes*> blocks;
  for (const auto& f : self.families) blocks.push_back(&f);
  for (const auto& f : process.families) blocks.push_back(&f);
  for (const auto& [target, state] : view) {
    for (const auto& [collector, snapshot] : state.snapshots) {
      for (const auto& f : snapshot->families) blocks.push_back(&f);
    }
  }
  std::stable_sort(blocks.begin(), blocks.end(),
                   [](const FamilyBytes* a, const FamilyBytes* b) { return a->name < b->name; });
  std::vector<PagePiece> pieces;
  for (std::size_t i = 0; i < blocks.size();) {
    const FamilyBytes& first = *blocks[i];
    pieces.push_back({&first.header, &first.header_gz});
    for (; i < blocks.size() && blocks[i]->name == first.name; ++i) {
      if (blocks[i]->type == first.type)
        pieces.push_back({&blocks[i]->samples, &blocks[i]->samples_gz});
    }
  }
  return pieces;
}

void put_le32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

// Both renderings size the page before filling it: a page grown by appending leaves a trail of
// freed buffers of every size behind it, which the heap keeps.
std::string render_text(const SnapshotStore::View& view, const SerializedSnapshot& process) {
  const SerializedSnapshot self = self_metrics(view);
  const std::vector<PagePiece> pieces = page_pieces(view, self, process);
  std::size_t size = 0;
  for (const PagePiece& p : pieces) size += p.text->size();
  std::string out;
  out.reserve(size);
  for (const PagePiece& p : pieces) out += *p.text;
  return out;
}

std::string render_gzip(const SnapshotStore::View& view, const SerializedSnapshot& process) {
  static constexpr std::size_t kHeader = 10, kTrailer = 2 + 4 + 4;
  const SerializedSnapshot self = self_metrics(view);
  const std::vector<PagePiece> pieces = page_pieces(view, self, process);
  std::size_t size = kHeader + kTrailer;
  for (const PagePiece& p : pieces) size += p.gz->data.size();
  std::string out;
  out.reserve(size);
  // gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
  out.append("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", kHeader);
  uLong crc = crc32(0L, Z_NULL, 0);
  std::uint64_t length = 0;
  for (const PagePiece& p : pieces) {
    out += p.gz->data;
    crc = crc32_combine(crc, p.gz->crc, static_cast<z_off_t>(p.gz->length));
    length += p.gz->length;
  }
  out.append("\x03\x00", 2);  // an empty final block (fixed Huffman, end-of-block only)
  put_le32(out, static_cast<std::uint32_t>(crc));
  put_le32(out, static_cast<std::uint32_t>(length));
  return out;
}

}  // namespace pge
