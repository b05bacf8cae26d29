// The HTTP side: CivetWeb serving /metrics (every target) and /probe?target=NAME (one target, for
// Prometheus multi-target scraping) from the SnapshotStore, a landing page at / and /healthz, and
// POST /-/reload (config_reloader.h), optionally over TLS and behind basic auth on every path (the
// web config, docs/security.md).
// Nothing here touches the database: every request is answered from stored serialized snapshots
// (render.h), gzip-encoded when the client accepts it. Construct and destroy from the main thread;
// requests run on CivetWeb's worker threads, whose number and every size and time limit are set
// explicitly (CivetWeb's defaults are sized for a general web server, not for an exporter).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "exporter/config_reloader.h"
#include "exporter/store.h"
#include "exporter/web_config.h"

class CivetServer;

namespace pge {

struct HttpSettings {
  std::vector<std::string> listen_addresses{"127.0.0.1:10187"};
  std::string telemetry_path = "/metrics";  // --web.telemetry-path
  int scrape_threads = 4;     // /metrics responses built at once (exporter.web_threads)
  int max_connections = 256;  // connections served at once (exporter.web_max_connections)
  bool healthz_open = false;  // /healthz without credentials (exporter.healthz_without_auth)
  WebConfig web;              // TLS, users, headers; default: plain HTTP, no auth
};

class HttpServer {
 public:
  // Throws std::runtime_error with the reason when TLS cannot be set up or a listener cannot bind.
  // `store` and `reloader` must outlive the server.
  HttpServer(const HttpSettings& settings, const SnapshotStore& store, ConfigReloader& reloader);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::vector<int> ports() const;

  struct State;  // shared with CivetWeb's callbacks

 private:
  std::unique_ptr<State> state_;
  std::unique_ptr<CivetServer> server_;
};

// The landing page HTML for a store view (exposed for tests). Collector error texts name hosts,
// tables and roles, so they are shown only when `show_errors` (the client has authenticated).
std::string render_landing_page(const SnapshotStore::View& view, bool show_errors,
                                const std::string& telemetry_path = "/metrics");

// The view restricted to one target (empty when there is no such target): what /probe serves.
SnapshotStore::View target_view(const SnapshotStore::View& view, const std::string& target);

// Translates a Prometheus-style listen address (":10187", "127.0.0.1:10187") to CivetWeb's form.
std::string civetweb_listen_address(const std::string& address, bool tls);

// True when the address listens on every interface (":10187", "0.0.0.0:10187").
bool listens_on_all_interfaces(const std::string& address);

}  // namespace pge
