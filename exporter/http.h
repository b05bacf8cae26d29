// The HTTP side: prometheus-cpp's Exposer (CivetWeb) serving /metrics from the SnapshotStore, plus
// a landing page at / and /healthz. Nothing here touches the database: every request is answered
// from stored snapshots. Construct and destroy from the main thread; requests run on CivetWeb's
// worker threads (count set explicitly from the config).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "exporter/store.h"

namespace prometheus {
class Exposer;
}

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
  std::shared_ptr<class StoreCollectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

// The landing page HTML for a store view (exposed for tests).
std::string render_landing_page(const SnapshotStore::View& view);

// Translates a Prometheus-style listen address (":9187", "127.0.0.1:9187") to CivetWeb's form.
std::string civetweb_listen_address(const std::string& address);

}  // namespace pge
