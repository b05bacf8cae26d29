// Hostile clients against a running exporter, with a well-behaved scraper measured throughout.
// Attacks, all at once for --seconds: idle connections that never send a byte, slowloris (headers
// one byte at a time), a 64 KiB URL, a 1 MiB header, bad methods, random bytes, a client that asks
// for /metrics and never reads, and (with --tls) TLS garbage on the TLS port. Meanwhile a scraper
// fetches /metrics with valid credentials every 200 ms. Prints, per attack, requests tried and
// answered (an HTTP status came back), the scraper's latency (max, p50, p99) and the exporter's
// peak threads and RSS (from /proc/PID/status). Exit status 1 when a scrape failed or took longer
// than --max-scrape-seconds, or the exporter died.
//
// usage: hostile_clients --port=N --pid=PID [--tls] [--user=U --password=P] [--seconds=10]
//                        [--idle=200] [--max-scrape-seconds=2]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  int pid = 0;
  bool tls = false;
  std::string user, password;
  int seconds = 10;
  int idle = 200;
  double max_scrape_seconds = 2;
};

Options g_opt;
SSL_CTX* g_client_ctx = nullptr;
std::atomic<bool> g_stop{false};

struct Tally {
  std::atomic<long> tried{0}, answered{0};
};
std::map<std::string, Tally> g_tally;

// A client connection, plain or TLS; closed on destruction.
class Conn {
 public:
  Conn() = default;
  ~Conn() { close(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // TCP connect; with `handshake` and --tls also the TLS handshake.
  bool open(bool handshake = true, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    if (rcvbuf) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{6, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(g_opt.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    if (g_opt.tls && handshake) {
      ssl_ = SSL_new(g_client_ctx);
      SSL_set_fd(ssl_, fd_);
      if (SSL_connect(ssl_) != 1) return false;
    }
    return true;
  }

  bool send_all(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      const int n =
          ssl_ ? SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off))
               : static_cast<int>(::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Everything until the server closes (or the receive timeout); "" when nothing came.
  std::string read_all() {
    std::string out;
    char buf[16384];
    for (;;) {
      const int n = ssl_ ? SSL_read(ssl_, buf, sizeof buf)
                         : static_cast<int>(::recv(fd_, buf, sizeof buf, 0));
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  void close() {
    if (ssl_) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  SSL* ssl_ = nullptr;
};

std::string base64(const std::string& in) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += a[(n >> 18) & 63];
    out += a[(n >> 12) & 63];
    out += i + 1 < in.size() ? a[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? a[n & 63] : '=';
  }
  return out;
}

std::string auth_header() {
  if (g_opt.user.empty()) return "";
  return "Authorization: Basic " + base64(g_opt.user + ":" + g_opt.password) + "\r\n";
}

bool answered(const std::string& response) { return response.rfind("HTTP/1.", 0) == 0; }

// One request on a fresh connection; counts it under `attack`.
void request_once(const std::string& attack, const std::string& request, bool handshake = true) {
  Tally& t = g_tally.at(attack);
  ++t.tried;
  Conn c;
  if (!c.open(handshake)) return;
  c.send_all(request);
  if (answered(c.read_all())) ++t.answered;
}

void repeat(const std::function<void()>& f) {
  while (!g_stop) f();
}

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& ch : s) ch = static_cast<char>(rng());
  return s;
}

// Idle connections that never send anything (no TLS handshake either): they hold a worker until the
// request timeout, then are reopened.
void idle_connections() {
  std::vector<std::unique_ptr<Conn>> conns(static_cast<size_t>(g_opt.idle));
  Tally& t = g_tally.at("idle connection");
  while (!g_stop) {
    for (auto& c : conns) {
      if (c) {
        pollfd p{c->fd(), POLLIN, 0};
        if (poll(&p, 1, 0) == 0) continue;  // still open and silent
      }
      c = std::make_unique<Conn>();
      ++t.tried;
      if (!c->open(false)) c.reset();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void slowloris() {
  Tally& t = g_tally.at("slowloris");
  repeat([&] {
    ++t.tried;
    Conn c;
    if (!c.open()) return;
    const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n" + auth_header() + "X-Slow: ";
    for (char ch : req) {
      if (g_stop || !c.send_all(std::string(1, ch))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    if (answered(c.read_all())) ++t.answered;
  });
}

void non_reading_client() {
  Tally& t = g_tally.at("non-reading client");
  repeat([&] {
    ++t.tried;
    Conn c;
    if (!c.open(true, 1024)) return;
    c.send_all("GET /metrics HTTP/1.1\r\nHost: x\r\n" + auth_header() + "\r\n");
    for (int i = 0; i < 30 && !g_stop; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  });
}

// The well-behaved scraper: returns latencies (seconds); a failed scrape is recorded as -1.
std::vector<double> g_latencies;
std::mutex g_latencies_mu;
void scraper() {
  const std::string req =
      "GET /metrics HTTP/1.1\r\nHost: x\r\n" + auth_header() + "Connection: close\r\n\r\n";
  while (!g_stop) {
    const auto start = Clock::now();
    Conn c;
    std::string resp;
    if (c.open() && c.send_all(req)) resp = c.read_all();
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    const bool ok = resp.rfind("HTTP/1.1 200", 0) == 0 && resp.find("pg_") != std::string::npos;
    {
      std::lock_guard<std::mutex> lock(g_latencies_mu);
      g_latencies.push_back(ok ? s : -1);
    }
    if (!ok) std::fprintf(stderr, "scrape failed after %.3f s: %.80s\n", s, resp.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

struct Peak {
  long threads = 0, rss_kb = 0;
  bool alive = true;
};
Peak g_peak;
void sample_process() {
  while (!g_stop) {
    std::ifstream in("/proc/" + std::to_string(g_opt.pid) + "/status");
    if (!in) {
      g_peak.alive = false;
      return;
    }
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Threads:", 0) == 0)
        g_peak.threads = std::max(g_peak.threads, std::stol(line.substr(8)));
      if (line.rfind("VmRSS:", 0) == 0)
        g_peak.rss_kb = std::max(g_peak.rss_kb, std::stol(line.substr(6)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool parse_args(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      const std::string prefix = std::string(name) + "=";
      return a.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (a == "--tls")
      g_opt.tls = true;
    else if (auto v = value("--port"))
      g_opt.port = std::atoi(v);
    else if (auto v = value("--pid"))
      g_opt.pid = std::atoi(v);
    else if (auto v = value("--user"))
      g_opt.user = v;
    else if (auto v = value("--password"))
      g_opt.password = v;
    else if (auto v = value("--seconds"))
      g_opt.seconds = std::atoi(v);
    else if (auto v = value("--idle"))
      g_opt.idle = std::atoi(v);
    else if (auto v = value("--max-scrape-seconds"))
      g_opt.max_scrape_seconds = std::atof(v);
    else {
      std::fprintf(stderr, "hostile_clients: unknown option %s\n", argv[i]);
      return false;
    }
  }
  if (g_opt.port <= 0 || g_opt.pid <= 0 || g_opt.seconds <= 0) {
    std::fprintf(stderr,
                 "usage: hostile_clients --port=N --pid=PID [--tls] [--user=U --password=P] "
                 "[--seconds=10] [--idle=200] [--max-scrape-seconds=2]\n");
    return false;
  }
  return true;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  if (!parse_args(argc, argv)) return 2;
  signal(SIGPIPE, SIG_IGN);
  g_client_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(g_client_ctx, SSL_VERIFY_NONE, nullptr);
  for (const char* name : {"idle connection", "slowloris", "64 KiB URL", "1 MiB header",
                           "bad method", "random bytes", "non-reading client", "TLS garbage"}) {
    g_tally[name];
  }
  const std::string auth = auth_header();
  std::vector<std::thread> threads;
  threads.emplace_back(sample_process);
  threads.emplace_back(idle_connections);
  for (int i = 0; i < 20; ++i) threads.emplace_back(slowloris);
  for (int i = 0; i < 10; ++i) threads.emplace_back(non_reading_client);
  threads.emplace_back([&] {
    repeat([&] {
      request_once("64 KiB URL",
                   "GET /metrics?" + std::string(65536, 'a') + " HTTP/1.1\r\n" + auth + "\r\n");
    });
  });
  threads.emplace_back([&] {
    repeat([&] {
      request_once("1 MiB header", "GET /metrics HTTP/1.1\r\n" + auth +
                                       "X-Big: " + std::string(1 << 20, 'b') + "\r\n\r\n");
    });
  });
  threads.emplace_back([&] {
    const char* methods[] = {"PUT",   "DELETE",  "POST",  "PROPFIND", "MKCOL",
                             "TRACE", "CONNECT", "PATCH", "FOO",      "G\x01T"};
    size_t i = 0;
    repeat([&] {
      request_once("bad method", std::string(methods[i++ % 10]) +
                                     " /metrics HTTP/1.1\r\nHost: x\r\n" + auth +
                                     "Content-Length: 5\r\n\r\nhello");
    });
  });
  threads.emplace_back([&] {
    std::mt19937 rng(12);
    repeat([&] { request_once("random bytes", random_bytes(rng, 1 + rng() % 8192) + "\r\n\r\n"); });
  });
  if (g_opt.tls) {
    threads.emplace_back([&] {
      std::mt19937 rng(34);
      // A TLS record header announcing a handshake, then garbage; and pure garbage.
      repeat([&] {
        std::string garbage = std::string("\x16\x03\x01\x02\x00", 5) + random_bytes(rng, 512);
        request_once("TLS garbage", rng() % 2 ? garbage : random_bytes(rng, 600), false);
      });
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the abuse reach full strength
  threads.emplace_back(scraper);
  std::this_thread::sleep_for(std::chrono::seconds(g_opt.seconds));
  g_stop = true;
  for (auto& t : threads) t.join();

  std::printf("%-22s %10s %10s\n", "attack", "tried", "answered");
  long tried = 0, answered_total = 0;
  for (auto& [name, t] : g_tally) {
    if (name == "TLS garbage" && !g_opt.tls) continue;
    std::printf("%-22s %10ld %10ld\n", name.c_str(), t.tried.load(), t.answered.load());
    tried += t.tried;
    answered_total += t.answered;
  }
  std::printf("%-22s %10ld %10ld\n", "total", tried, answered_total);
  std::vector<double> ok;
  long failed = 0;
  for (double s : g_latencies) (s < 0 ? failed++ : (ok.push_back(s), 0));
  const double worst = ok.empty() ? 0 : *std::max_element(ok.begin(), ok.end());
  std::printf(
      "scrapes during abuse: %zu ok, %ld failed; latency p50 %.3f s, p99 %.3f s, max %.3f s\n",
      ok.size(), failed, percentile(ok, 0.5), percentile(ok, 0.99), worst);
  std::printf("exporter: peak threads %ld, peak RSS %.1f MiB, %s\n", g_peak.threads,
              static_cast<double>(g_peak.rss_kb) / 1024, g_peak.alive ? "alive" : "DIED");
  const bool pass = g_peak.alive && failed == 0 && !ok.empty() && worst <= g_opt.max_scrape_seconds;
  std::printf("%s\n", pass ? "PASS" : "FAIL");
  SSL_CTX_free(g_client_ctx);
  return pass ? 0 : 1;
}
