#include "exporter/http.h"

#include <atomic>
#include <cmath>
#include <ctime>
#include <iterator>
#include <mutex>
#include <sstream>

#include <CivetServer.h>
#include <civetweb.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include "exporter/exposition.h"
#include "core/log.h"
#include "exporter/process_metrics.h"

namespace pge {

class StoreCollectable : public prometheus::Collectable {
 public:
  explicit StoreCollectable(const SnapshotStore& store) : store_(store) {}

  // Runs on a CivetWeb thread. An exception escaping here would terminate the process, so
  // everything is caught and an empty scrape (still with the scrape's own failure logged) returned.
  std::vector<prometheus::MetricFamily> Collect() const override {
    try {
      auto families = build_exposition(store_.view());
      auto process = process_metric_families();
      families.insert(families.end(), std::make_move_iterator(process.begin()),
                      std::make_move_iterator(process.end()));
      return families;
    } catch (const std::exception& e) {
      log::error("building /metrics failed", {{"err", e.what()}});
    } catch (...) {
      log::error("building /metrics failed", {{"err", "unknown exception"}});
    }
    return {};
  }

 private:
  const SnapshotStore& store_;
};

namespace {

// CivetWeb's begin_request callback has no user pointer, so the store is reached through this.
std::atomic<const SnapshotStore*> g_store{nullptr};
// Written by the constructor before the server starts its threads, read-only afterwards.
std::string g_telemetry_path = "/metrics";

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_time(double unix_seconds) {
  if (unix_seconds <= 0) return "never";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buf;
}

int send(mg_connection* conn, int status, const char* content_type, const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, status == 200 ? "OK" : "Not Found", content_type, body.size());
  mg_write(conn, body.data(), body.size());
  return status;
}

int begin_request(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string uri = info->local_uri ? info->local_uri : "";
  if (uri == "/healthz") return send(conn, 200, "text/plain; charset=utf-8", "ok\n");
  if (uri == "/") {
    const SnapshotStore* store = g_store.load();
    std::string body = store ? render_landing_page(store->view(), g_telemetry_path) : "";
    return send(conn, 200, "text/html; charset=utf-8", body);
  }
  return 0;  // /metrics and everything else: the Exposer's handlers
}

int log_message(const mg_connection*, const char* message) {
  log::error("http server", {{"err", message}});
  return 1;
}

}  // namespace

std::string render_landing_page(const SnapshotStore::View& view, const std::string& telemetry_path) {
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>pg_evolution_exporter</title>"
       "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.bad{color:#b00}</style>"
       "</head><body><h1>pg_evolution_exporter</h1><p>Version "
    << PGE_VERSION << " (" << PGE_REVISION
    << "). <a href=\"" << html_escape(telemetry_path) << "\">Metrics</a> &middot; <a href=\"/healthz\">Health</a></p>";
  for (const auto& [target, state] : view) {
    h << "<h2>Target " << html_escape(target) << ": "
      << (state.up ? "up" : "<span class=\"bad\">down</span>") << "</h2>";
    if (!state.up && !state.last_error.empty()) {
      h << "<p class=\"bad\">" << html_escape(state.last_error) << "</p>";
    }
    h << "<table><tr><th>collector</th><th>status</th><th>last success</th><th>duration</th>"
         "<th>series</th><th>errors</th><th>last error</th></tr>";
    for (const auto& [name, st] : state.collectors) {
      const char* status = !st.ran ? "pending" : st.success ? "ok" : "failing";
      char duration[32];
      std::snprintf(duration, sizeof duration, "%.1f ms", st.duration_seconds * 1000);
      h << "<tr><td>" << html_escape(name) << "</td><td" << (st.success || !st.ran ? "" : " class=\"bad\"")
        << ">" << status << "</td><td>" << format_time(st.last_success_unix) << "</td><td>"
        << duration << "</td><td>" << st.series << "</td><td>" << st.errors_total << "</td><td>"
        << html_escape(st.last_error) << "</td></tr>";
    }
    h << "</table>";
  }
  h << "</body></html>\n";
  return h.str();
}

std::string civetweb_listen_address(const std::string& address) {
  if (!address.empty() && address[0] == ':') return address.substr(1);
  return address;
}

HttpServer::HttpServer(const Config& config, const SnapshotStore& store)
    : collectable_(std::make_shared<StoreCollectable>(store)) {
  g_store = &store;
  g_telemetry_path = config.telemetry_path;
  CivetCallbacks callbacks;
  callbacks.begin_request = begin_request;
  callbacks.log_message = log_message;
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", civetweb_listen_address(config.listen_address),
                                 "num_threads", std::to_string(config.web_threads),
                                 "request_timeout_ms", "10000"},
        &callbacks);
  } catch (const std::exception& e) {
    g_store = nullptr;
    throw std::runtime_error("cannot listen on " + config.listen_address +
                             " (address in use or invalid; see the http server log line above)");
  }
  exposer_->RegisterCollectable(collectable_, config.telemetry_path);
}

HttpServer::~HttpServer() {
  exposer_.reset();
  g_store = nullptr;
}

std::vector<int> HttpServer::ports() const { return exposer_->GetListeningPorts(); }

}  // namespace pge
