// The HTTP side (CivetWeb): /metrics (every target), /probe?target=NAME (one target, for
// Prometheus multi-target scraping), a landing page at / and /healthz. Nothing here touches the
// database: every request is answered from stored serialized snapshots (render.h), gzip-encoded when
// the client accepts it. prometheus-cpp's Exposer is not used because it rebuilds and re-serializes
// metric objects on every scrape. Construct and destroy from the main thread; requests run on
// CivetWeb's worker threads (count set explicitly from the config).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "exporter/store.h"

class CivetServer;

namespace pge {

class HttpServer {
 public:
  // Throws std::runtime_error with the listener's real reason when it cannot bind.
  HttpServer(const Config& config, const SnapshotStore& store);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::vector<int> ports() const;

 private:
  std::unique_ptr<CivetServer> server_;
};

// The landing page HTML for a store view (exposed for tests).
std::string render_landing_page(const SnapshotStore::View& view);

// The view restricted to one target (empty when there is no such target): what /probe serves.
SnapshotStore::View target_view(const SnapshotStore::View& view, const std::string& target);

// Translates a Prometheus-style listen address (":9187", "127.0.0.1:9187") to CivetWeb's form.
std::string civetweb_listen_address(const std::string& address);

}  // namespace pge
