#include "exporter/http.h"

#include <atomic>
#include <cstring>
#include <cmath>
#include <ctime>
#include <mutex>
#include <sstream>

#include <CivetServer.h>
#include <civetweb.h>
#include <spdlog/spdlog.h>

#include "exporter/render.h"

namespace pge {

namespace {

// CivetWeb's begin_request callback has no user pointer, so the store is reached through this.
std::atomic<const SnapshotStore*> g_store{nullptr};

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

const char* status_text(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 500: return "Internal Server Error";
    default: return "Not Found";
  }
}

int send(mg_connection* conn, int status, const char* content_type, const std::string& body,
         bool gzip = false) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, status_text(status), content_type, body.size(),
            gzip ? "Content-Encoding: gzip\r\n" : "");
  mg_write(conn, body.data(), body.size());
  return status;
}

bool accepts_gzip(mg_connection* conn) {
  const char* accept = mg_get_header(conn, "Accept-Encoding");
  return accept && std::strstr(accept, "gzip");
}

constexpr const char* kExpositionType = "text/plain; version=0.0.4; charset=utf-8";

// Rendering runs on a CivetWeb thread: nothing may escape it, so a failure becomes a 500.
int send_metrics(mg_connection* conn, const SnapshotStore::View& view) {
  try {
    if (accepts_gzip(conn)) return send(conn, 200, kExpositionType, render_gzip(view), true);
    return send(conn, 200, kExpositionType, render_text(view));
  } catch (const std::exception& e) {
    spdlog::error("rendering metrics failed: {}", e.what());
    return send(conn, 500, "text/plain; charset=utf-8", "rendering metrics failed\n");
  }
}

int send_probe(mg_connection* conn, const SnapshotStore& store) {
  const mg_request_info* info = mg_get_request_info(conn);
  char target[256];
  const char* query = info->query_string ? info->query_string : "";
  if (mg_get_var(query, std::strlen(query), "target", target, sizeof target) <= 0) {
    return send(conn, 400, "text/plain; charset=utf-8", "probe needs ?target=NAME\n");
  }
  SnapshotStore::View view = target_view(store.view(), target);
  if (view.empty()) {
    return send(conn, 404, "text/plain; charset=utf-8",
                std::string("no target named ") + target + " in the configuration\n");
  }
  return send_metrics(conn, view);
}

int begin_request(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string uri = info->local_uri ? info->local_uri : "";
  const SnapshotStore* store = g_store.load();
  if (uri == "/healthz") return send(conn, 200, "text/plain; charset=utf-8", "ok\n");
  if (!store) return send(conn, 404, "text/plain; charset=utf-8", "not found\n");
  if (uri == "/metrics") return send_metrics(conn, store->view());
  if (uri == "/probe") return send_probe(conn, *store);
  if (uri == "/") return send(conn, 200, "text/html; charset=utf-8", render_landing_page(store->view()));
  return send(conn, 404, "text/plain; charset=utf-8", "not found\n");
}

int log_message(const mg_connection*, const char* message) {
  spdlog::error("http server: {}", message);
  return 1;
}

}  // namespace

std::string render_landing_page(const SnapshotStore::View& view) {
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>pg_evolution_exporter</title>"
       "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.bad{color:#b00}</style>"
       "</head><body><h1>pg_evolution_exporter</h1><p>Version "
    << PGE_VERSION << " (" << PGE_REVISION
    << "). <a href=\"/metrics\">Metrics</a> &middot; <a href=\"/healthz\">Health</a></p>";
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

SnapshotStore::View target_view(const SnapshotStore::View& view, const std::string& target) {
  SnapshotStore::View out;
  auto it = view.find(target);
  if (it != view.end()) out.emplace(it->first, it->second);
  return out;
}

std::string civetweb_listen_address(const std::string& address) {
  if (!address.empty() && address[0] == ':') return address.substr(1);
  return address;
}

HttpServer::HttpServer(const Config& config, const SnapshotStore& store) {
  g_store = &store;
  CivetCallbacks callbacks;
  callbacks.begin_request = begin_request;
  callbacks.log_message = log_message;
  try {
    server_ = std::make_unique<CivetServer>(
        std::vector<std::string>{"listening_ports", civetweb_listen_address(config.listen_address),
                                 "num_threads", std::to_string(config.web_threads),
                                 "request_timeout_ms", "10000"},
        &callbacks);
  } catch (const std::exception& e) {
    g_store = nullptr;
    throw std::runtime_error("cannot listen on " + config.listen_address +
                             " (address in use or invalid; see the http server log line above)");
  }
}

HttpServer::~HttpServer() {
  server_.reset();
  g_store = nullptr;
}

std::vector<int> HttpServer::ports() const { return server_->getListeningPorts(); }

}  // namespace pge
