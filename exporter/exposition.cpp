#include "exporter/exposition.h"

#include <prometheus/text_serializer.h>
#include <zlib.h>

#include <algorithm>
#include <stdexcept>

namespace pge {

std::string escape_help(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

DeflatePiece deflate_piece(const std::string& text) {
  DeflatePiece piece;
  piece.length = text.size();
  piece.crc = static_cast<std::uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(text.data()), text.size()));
  if (text.empty()) return piece;
  z_stream z{};
  // Raw deflate (negative window bits): the gzip header and trailer are written per response.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  piece.data.resize(deflateBound(&z, text.size()) + 16);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(piece.data.data());
  z.avail_out = static_cast<uInt>(piece.data.size());
  // Z_SYNC_FLUSH ends the piece on a byte boundary without a final block, so pieces concatenate.
  const int rc = deflate(&z, Z_SYNC_FLUSH);
  piece.data.resize(piece.data.size() - z.avail_out);
  deflateEnd(&z);
  if (rc != Z_OK || z.avail_in != 0) throw std::runtime_error("deflate failed");
  piece.data.shrink_to_fit();
  return piece;
}

std::size_t SerializedSnapshot::bytes() const {
  std::size_t n = 0;
  for (const auto& f : families) {
    n += f.name.size() + f.header.size() + f.samples.size() + f.header_gz.data.size() +
         f.samples_gz.data.size();
  }
  return n;
}

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;

bool label_less(const ClientMetric& a, const ClientMetric& b) {
  return std::lexicographical_compare(
      a.label.begin(), a.label.end(), b.label.begin(), b.label.end(),
      [](const ClientMetric::Label& x, const ClientMetric::Label& y) {
        return std::tie(x.name, x.value) < std::tie(y.name, y.value);
      });
}

bool label_equal(const ClientMetric& a, const ClientMetric& b) {
  return a.label.size() == b.label.size() &&
         std::equal(a.label.begin(), a.label.end(), b.label.begin(),
                    [](const ClientMetric::Label& x, const ClientMetric::Label& y) {
                      return x.name == y.name && x.value == y.value;
                    });
}

// The family's text split after its "# HELP" and "# TYPE" lines; adds its series to `series`.
FamilyBytes family_bytes(MetricFamily family, std::size_t& series) {
  std::stable_sort(family.metric.begin(), family.metric.end(), label_less);
  family.metric.erase(std::unique(family.metric.begin(), family.metric.end(), label_equal),
                      family.metric.end());
  series += family.metric.size();
  family.help = escape_help(family.help);
  const std::string text = prometheus::TextSerializer().Serialize({family});
  std::size_t body = 0;
  while (body < text.size() && text.compare(body, 2, "# ") == 0) {
    body = text.find('\n', body);
    body = body == std::string::npos ? text.size() : body + 1;
  }
  FamilyBytes out{family.name, family.type, text.substr(0, body), text.substr(body), {}, {}};
  out.header_gz = deflate_piece(out.header);
  out.samples_gz = deflate_piece(out.samples);
  return out;
}

}  // namespace

SerializedSnapshot serialize_snapshot(const Snapshot& snapshot) {
  SerializedSnapshot out;
  for (const auto& family : snapshot.families) {
    if (family.metric.empty()) continue;
    out.families.push_back(family_bytes(family, out.series));
  }
  std::stable_sort(out.families.begin(), out.families.end(),
                   [](const FamilyBytes& a, const FamilyBytes& b) { return a.name < b.name; });
  return out;
}

}  // namespace pge
