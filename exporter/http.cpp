#include "exporter/http.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <sstream>

#include "core/log.h"
#include "exporter/basic_auth.h"
#include "exporter/log_rate_limiter.h"
#include "exporter/process_metrics.h"
#include "exporter/render.h"
#include "exporter/tls_context.h"

namespace pge {

// The hard limits of the HTTP server, set explicitly rather than left to CivetWeb's defaults. A
// request line plus headers larger than kMaxRequestBytes is refused (413) and the connection
// closed; a client has kRequestTimeoutMs in total for its TLS handshake, request and reading the
// response, so slow or silent clients free their worker within that time.
constexpr int kMaxRequestBytes = 8192;
constexpr int kRequestTimeoutMs = 5000;
constexpr int kListenBacklog = 512;
constexpr int kConnectionQueue = 64;
constexpr auto kScrapeWait = std::chrono::seconds(5);
// CivetWeb logs every failed TLS handshake; a client that opens connections in a loop must not be
// able to fill the disk or drown the collectors' lines, so each kind gets this many lines per
// window.
constexpr int kServerLogLinesPerWindow = 10;
constexpr auto kServerLogWindow = std::chrono::seconds(60);

struct HttpServer::State {
  const SnapshotStore& store;
  ConfigReloader& reloader;
  HttpSettings settings;
  BasicAuth auth;
  LogRateLimiter server_log{kServerLogLinesPerWindow, kServerLogWindow};  // CivetWeb's messages
  SSL_CTX* ssl_ctx = nullptr;  // owned; freed after the server stops
  std::string extra_headers;   // configured headers plus our fixed ones, each ending in CRLF

  std::mutex mu;  // bounds concurrent /metrics builds
  std::condition_variable slot_free;
  int scrapes_running = 0;

  State(const SnapshotStore& s, ConfigReloader& r, const HttpSettings& st)
      : store(s), reloader(r), settings(st), auth(st.web.basic_auth_users) {}
};

namespace {

using State = HttpServer::State;

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format_time(double unix_seconds) {
  if (unix_seconds <= 0) return "never";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  char buf[32];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

State& state_of(const mg_connection* conn) {
  auto* server = static_cast<CivetServer*>(mg_get_user_data(mg_get_context(conn)));
  return *static_cast<State*>(const_cast<void*>(server->getUserContext()));
}

int send(mg_connection* conn, const State& state, int status, const char* content_type,
         const std::string& body, const char* more_headers = "") {
  const mg_request_info* info = mg_get_request_info(conn);
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s"
            "Connection: close\r\n\r\n",
            status, reason(status), content_type, body.size(), state.extra_headers.c_str(),
            more_headers);
  if (std::strcmp(info->request_method, "HEAD") != 0) mg_write(conn, body.data(), body.size());
  return status;
}

// Waits for one of the scrape slots; false after kScrapeWait (the client then gets 503).
bool acquire_scrape_slot(State& state) {
  std::unique_lock<std::mutex> lock(state.mu);
  if (!state.slot_free.wait_for(lock, kScrapeWait, [&] {
        return state.scrapes_running < state.settings.scrape_threads;
      })) {
    return false;
  }
  ++state.scrapes_running;
  return true;
}

void release_scrape_slot(State& state) {
  {
    std::lock_guard<std::mutex> lock(state.mu);
    --state.scrapes_running;
  }
  state.slot_free.notify_one();
}

bool accepts_gzip(mg_connection* conn) {
  const char* accept = mg_get_header(conn, "Accept-Encoding");
  return accept && std::strstr(accept, "gzip");
}

constexpr const char* kExpositionType = "text/plain; version=0.0.4; charset=utf-8";

// The page is a copy of stored bytes (render.h), gzip-encoded when the client accepts it. Nothing
// may escape a CivetWeb thread, so a failure becomes a 500.
int serve_view(mg_connection* conn, State& state, const SnapshotStore::View& view,
               const SerializedSnapshot& process = {}) {
  if (!acquire_scrape_slot(state)) {
    return send(conn, state, 503, "text/plain; charset=utf-8", "busy\n", "Retry-After: 1\r\n");
  }
  const bool gzip = accepts_gzip(conn);
  std::string body;
  bool ok = true;
  try {
    body = gzip ? render_gzip(view, process) : render_text(view, process);
  } catch (const std::exception& e) {
    log::error("rendering metrics failed", {{"err", e.what()}});
    ok = false;
  }
  release_scrape_slot(state);
  if (!ok) return send(conn, state, 500, "text/plain; charset=utf-8", "rendering metrics failed\n");
  return send(
      conn, state, 200, kExpositionType, body,
      gzip ? "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n" : "Vary: Accept-Encoding\r\n");
}

// /probe?target=NAME: one target's snapshots, so Prometheus gets one `up` per database.
int serve_probe(mg_connection* conn, State& state) {
  const mg_request_info* info = mg_get_request_info(conn);
  char target[256];
  const char* query = info->query_string ? info->query_string : "";
  if (mg_get_var(query, std::strlen(query), "target", target, sizeof target) <= 0) {
    return send(conn, state, 400, "text/plain; charset=utf-8", "probe needs ?target=NAME\n");
  }
  SnapshotStore::View view = target_view(state.store.view(), target);
  if (view.empty()) {
    return send(conn, state, 404, "text/plain; charset=utf-8",
                "no such target in the configuration\n");
  }
  return serve_view(conn, state, view);
}

constexpr std::string_view kTlsHandshakeKind = "tls_handshake";
constexpr std::string_view kOtherKind = "other";
constexpr std::string_view kCivetwebMessageKinds[] = {kTlsHandshakeKind, kOtherKind};

// POST /-/reload, as Prometheus and Alertmanager have it: 200 once the new configuration runs, 500
// with its problems when the running one stays. A reload changes state, so GET is refused.
int serve_reload(mg_connection* conn, State& state, const std::string& method) {
  if (method != "POST") {
    return send(conn, state, 405, "text/plain; charset=utf-8", "only POST\n", "Allow: POST\r\n");
  }
  try {
    const ReloadOutcome outcome = state.reloader.reload();
    return send(conn, state, outcome.ok ? 200 : 500, "text/plain; charset=utf-8", outcome.message);
  } catch (const std::exception& e) {  // nothing may escape a CivetWeb thread
    log::error("configuration reload failed", {{"err", e.what()}});
    return send(conn, state, 500, "text/plain; charset=utf-8", "reload failed\n");
  }
}

// The exporter's own metrics, read at each scrape: its process, its configuration reloads and its
// HTTP server. Every error kind is exported from the start, so rate() sees the first error.
SerializedSnapshot exporter_metrics(const State& state) {
  SnapshotBuilder b;
  for (std::string_view kind : kCivetwebMessageKinds) {
    b.counter("pg_evolution_exporter_http_server_errors_total",
              "Errors the HTTP server reported (failed TLS handshakes, socket errors), counted "
              "before the log's rate limit.",
              {{"kind", std::string(kind)}}, static_cast<double>(state.server_log.total(kind)));
  }
  Snapshot own = b.take();
  for (auto& family : process_metric_families()) own.families.push_back(std::move(family));
  for (auto& family : state.reloader.metric_families()) own.families.push_back(std::move(family));
  return serialize_snapshot(own);
}

// Returns 0 when the request may go on, else the status already sent.
int authenticate(mg_connection* conn, State& state, const std::string& uri) {
  if (!state.auth.enabled() || (uri == "/healthz" && state.settings.healthz_open)) return 0;
  switch (state.auth.check(mg_get_header(conn, "Authorization"))) {
    case BasicAuth::Verdict::kAllowed:
      return 0;
    case BasicAuth::Verdict::kBusy:
      return send(conn, state, 503, "text/plain; charset=utf-8", "busy\n", "Retry-After: 1\r\n");
    case BasicAuth::Verdict::kDenied:
      break;
  }
  return send(conn, state, 401, "text/plain; charset=utf-8", "Unauthorized\n",
              "WWW-Authenticate: Basic realm=\"pg_evolution_exporter\"\r\n");
}

// Every request ends here: CivetWeb's own handlers (files, directories, PUT, WebDAV) never run.
int begin_request(mg_connection* conn) {
  State& state = state_of(conn);
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string uri = info->local_uri ? info->local_uri : "";
  if (int status = authenticate(conn, state, uri)) return status;
  const std::string method = info->request_method ? info->request_method : "";
  if (uri == "/-/reload") return serve_reload(conn, state, method);
  if (method != "GET" && method != "HEAD") {
    return send(conn, state, 405, "text/plain; charset=utf-8", "only GET and HEAD\n",
                "Allow: GET, HEAD\r\n");
  }
  if (uri == state.settings.telemetry_path) {
    return serve_view(conn, state, state.store.view(), exporter_metrics(state));
  }
  if (uri == "/probe") return serve_probe(conn, state);
  if (uri == "/healthz") return send(conn, state, 200, "text/plain; charset=utf-8", "ok\n");
  if (uri == "/") {
    return send(conn, state, 200, "text/html; charset=utf-8",
                render_landing_page(state.store.view(), state.auth.enabled(),
                                    state.settings.telemetry_path));
  }
  return send(conn, state, 404, "text/plain; charset=utf-8", "not found\n");
}

void log_ended_windows(LogRateLimiter& limiter, LogRateLimiter::Clock::time_point now) {
  for (const auto& held : limiter.ended_windows(now)) {
    log::warn("http server lines held back",
              {{"kind", held.kind},
               {"lines", held.lines},
               {"window_seconds", static_cast<long long>(kServerLogWindow.count())}});
  }
}

int log_message(const mg_connection* conn, const char* message) {
  State& state = state_of(conn);
  const std::string_view kind = civetweb_message_kind(message);
  const auto now = LogRateLimiter::Clock::now();
  log_ended_windows(state.server_log, now);
  if (state.server_log.admit(kind, now))
    log::warn("http server", {{"kind", kind}, {"err", message}});
  return 1;
}

// CivetWeb asks for the TLS context once at start; ours keeps OpenSSL 3's options (EMS on).
int external_ssl_ctx(void** ssl_ctx, void* user_data) {
  auto* server = static_cast<CivetServer*>(user_data);
  const auto* state = static_cast<const State*>(server->getUserContext());
  if (!state->ssl_ctx) return -1;
  *ssl_ctx = state->ssl_ctx;
  return 1;
}

std::string extra_headers(const WebConfig& web) {
  std::string out = "Cache-Control: no-store\r\n";
  for (const auto& [name, value] : web.headers) out += name + ": " + value + "\r\n";
  return out;
}

std::string listening_ports(const HttpSettings& settings) {
  std::string out;
  for (const auto& a : settings.listen_addresses) {
    out += (out.empty() ? "" : ",") + civetweb_listen_address(a, settings.web.tls.has_value());
  }
  return out;
}

}  // namespace

std::string render_landing_page(const SnapshotStore::View& view, bool show_errors,
                                const std::string& telemetry_path) {
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>pg_evolution_exporter</title>"
       "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.bad{color:#b00}</style>"
       "</head><body><h1>pg_evolution_exporter</h1><p>Version "
    << PGE_VERSION << " (" << PGE_REVISION << "). <a href=\"" << html_escape(telemetry_path)
    << "\">Metrics</a> &middot; <a href=\"/healthz\">Health</a></p>";
  if (!show_errors) {
    h << "<p>Error details are in the exporter's log (shown here only when basic auth is on).</p>";
  }
  for (const auto& [target, state] : view) {
    h << "<h2>Target " << html_escape(target) << ": "
      << (state.up ? "up" : "<span class=\"bad\">down</span>") << "</h2>";
    if (show_errors && !state.up && !state.last_error.empty()) {
      h << "<p class=\"bad\">" << html_escape(state.last_error) << "</p>";
    }
    h << "<table><tr><th>collector</th><th>status</th><th>last success</th><th>duration</th>"
         "<th>series</th><th>errors</th>"
      << (show_errors ? "<th>last error</th>" : "") << "</tr>";
    for (const auto& [name, st] : state.collectors) {
      const char* status = !st.ran ? "pending" : st.success ? "ok" : "failing";
      char duration[32];
      std::snprintf(duration, sizeof duration, "%.1f ms", st.duration_seconds * 1000);
      h << "<tr><td>" << html_escape(name) << "</td><td"
        << (st.success || !st.ran ? "" : " class=\"bad\"") << ">" << status << "</td><td>"
        << format_time(st.last_success_unix) << "</td><td>" << duration << "</td><td>" << st.series
        << "</td><td>" << st.errors_total << "</td>";
      if (show_errors) h << "<td>" << html_escape(st.last_error) << "</td>";
      h << "</tr>";
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

std::string_view civetweb_message_kind(std::string_view message) {
  // sslize() words every failed handshake so (TLS garbage, plain HTTP on the TLS port, a client
  // that rejects our certificate): the one message a remote client can trigger at will.
  if (message.starts_with("sslize error") || message.starts_with("SSL syscall error")) {
    return kTlsHandshakeKind;
  }
  return kOtherKind;
}

std::string civetweb_listen_address(const std::string& address, bool tls) {
  std::string out = !address.empty() && address[0] == ':' ? address.substr(1) : address;
  return tls ? out + "s" : out;
}

bool listens_on_all_interfaces(const std::string& address) {
  return address.empty() || address[0] == ':' || address.rfind("0.0.0.0:", 0) == 0;
}

HttpServer::HttpServer(const HttpSettings& settings, const SnapshotStore& store,
                       ConfigReloader& reloader)
    : state_(std::make_unique<State>(store, reloader, settings)) {
  state_->extra_headers = extra_headers(settings.web);
  if (settings.web.tls) {
    require_civetweb_tls();
    try {
      state_->ssl_ctx = make_server_tls_context(*settings.web.tls);
    } catch (const TlsSetupError& e) {
      throw std::runtime_error("TLS: tls_server_config." + e.key() + ": " + e.what());
    }
  }
  CivetCallbacks callbacks;
  callbacks.begin_request = begin_request;
  callbacks.log_message = log_message;
  if (settings.web.tls) callbacks.external_ssl_ctx = external_ssl_ctx;
  const std::vector<std::string> options{"listening_ports",
                                         listening_ports(settings),
                                         "num_threads",
                                         std::to_string(settings.max_connections),
                                         "max_request_size",
                                         std::to_string(kMaxRequestBytes),
                                         "request_timeout_ms",
                                         std::to_string(kRequestTimeoutMs),
                                         "listen_backlog",
                                         std::to_string(kListenBacklog),
                                         "connection_queue",
                                         std::to_string(kConnectionQueue),
                                         "enable_keep_alive",
                                         "no",
                                         "enable_directory_listing",
                                         "no",
                                         "enable_auth_domain_check",
                                         "no",
                                         "tcp_nodelay",
                                         "1"};
  try {
    server_ = std::make_unique<CivetServer>(options, &callbacks, state_.get());
  } catch (const std::exception&) {
    if (state_->ssl_ctx) SSL_CTX_free(state_->ssl_ctx);
    std::string addresses;
    for (const auto& a : settings.listen_addresses)
      addresses += (addresses.empty() ? "" : ", ") + a;
    throw std::runtime_error("cannot listen on " + addresses +
                             " (address in use or invalid; see the http server log line above)");
  }
}

HttpServer::~HttpServer() {
  server_.reset();
  // Every window ends with the server: what it held back is logged now or never.
  log_ended_windows(state_->server_log, LogRateLimiter::Clock::now() + kServerLogWindow);
  if (state_->ssl_ctx) SSL_CTX_free(state_->ssl_ctx);
}

void HttpServer::log_held_back_lines() {
  log_ended_windows(state_->server_log, LogRateLimiter::Clock::now());
}

std::vector<int> HttpServer::ports() const { return server_->getListeningPorts(); }

}  // namespace pge
