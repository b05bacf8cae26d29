// Turns snapshots into what /metrics serves, in two steps so that a scrape costs a copy of bytes:
//  1. `serialize_snapshot` (on the collector's worker thread, once per run) sorts each family's
//     series, drops duplicates, writes the text exposition format with escaped HELP, and deflates
//     each family's text as a piece that ends on a byte boundary;
//  2. `render_text` / `render_gzip` (on an HTTP thread, per scrape) merge the stored families by
//     name across targets and collectors, HELP and TYPE once per family, and add the exporter's
//     self-metrics. The gzip body is one gzip member built from the stored deflate pieces (pigz's
//     technique: sync-flushed raw deflate pieces concatenate; CRCs combine), so nothing is
//     compressed again at scrape time except the small self-metrics.
// All functions are pure functions of their input; the golden tests call them directly.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/snapshot.h"

namespace pge {

// Raw deflate of some text, sync-flushed, with the text's CRC-32 and length.
struct DeflatePiece {
  std::string data;
  std::uint32_t crc = 0;
  std::size_t length = 0;
};

DeflatePiece deflate_piece(const std::string& text);

// One metric family of one snapshot, serialized.
struct FamilyBytes {
  std::string name;
  prometheus::MetricType type;
  std::string header;   // "# HELP ...\n# TYPE ...\n"
  std::string samples;  // the sample lines, sorted by labels
  DeflatePiece header_gz;
  DeflatePiece samples_gz;
};

// A collector run as stored: families sorted by name, empty families left out.
struct SerializedSnapshot {
  std::vector<FamilyBytes> families;
  std::size_t series = 0;
  std::size_t bytes() const;  // text + deflate, what the store holds
};

SerializedSnapshot serialize_snapshot(const Snapshot& snapshot);

// HELP text escaped as the exposition format requires (backslash and newline).
std::string escape_help(const std::string& help);

}  // namespace pge
