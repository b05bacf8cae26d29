// The exporter binary's web security: the web config is checked before anything is served, basic
// auth covers every path and the landing page leaks no connection details to anonymous clients.
// (Every flag is documented: tests/unit/docs_config_test.cpp. TLS end to end with Prometheus and
// curl: tests/shell/test_https_basic_auth.sh; hostile clients:
// tests/shell/test_hostile_clients.sh.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/test_support.h"

namespace pge::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// "prom" / "scrape-secret" at bcrypt cost 10.
constexpr const char* kUsers =
    "basic_auth_users:\n  prom: $2b$10$2ztQ4ab2IVzeKtv2fS2oiuJiltsoKBwWyzmDAAHauBBVzeHriMHIi\n";
constexpr const char* kGoodAuth =
    "Authorization: Basic cHJvbTpzY3JhcGUtc2VjcmV0\r\n";                       // prom:scrape-secret
constexpr const char* kBadAuth = "Authorization: Basic cHJvbTp3cm9uZw==\r\n";  // prom:wrong

// A config whose only target refuses connections: its error text names host and port.
std::string refused_target_config(const std::string& exporter_extra = "") {
  return "[exporter]\nconnect_timeout = \"1s\"\nmax_backoff = \"1s\"\n" + exporter_extra +
         "[[target]]\nname = \"db\"\ndsn = \"host=127.0.0.1 port=1 dbname=x user=u "
         "password=hunter2\"\n";
}

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = test::build_dir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = 0; (pos = text.find(needle, pos)) != std::string::npos; pos += needle.size())
    ++n;
  return n;
}

TEST(WebSecurity, ABadWebConfigExitsTwoNamingTheKeyAndServesNothing) {
  auto [rc, out] = test::run_exporter(
      {"--web.config.file=" + test::source_dir() + "/tests/web/bad/key_mismatch.yml",
       "--web.listen-address=127.0.0.1:0"},
      {{"DATA_SOURCE_NAME", "host=127.0.0.1 port=1"}});
  EXPECT_EQ(rc, 2);
  EXPECT_THAT(out, HasSubstr("key_mismatch.yml:4: tls_server_config.key_file: the key in"));
  EXPECT_THAT(out, Not(HasSubstr("listening")));
}

TEST(WebSecurity, WithoutAuthTheLandingPageShowsNoHostNoDsnNoErrorText) {
  ExporterProcess exporter(refused_target_config());
  ASSERT_TRUE(test::eventually(
      [&] { return exporter.log().find("port 1 failed") != std::string::npos; }, 10))
      << exporter.log();
  auto [status, page] = http_request(exporter.port(), "/");
  EXPECT_EQ(status, 200);
  EXPECT_THAT(page, HasSubstr("Target db: <span class=\"bad\">down</span>"));
  for (const char* secret : {"127.0.0.1", "port 1", "refused", "hunter2", "dbname", "user=u"}) {
    EXPECT_THAT(page, Not(HasSubstr(secret))) << secret;
  }
}

TEST(WebSecurity, BasicAuthGuardsEveryPathAndShowsDetailsOnlyToAuthenticatedClients) {
  const std::string web = write_temp("web_security_auth.yml", kUsers);
  ExporterProcess exporter(refused_target_config(), {"--web.config.file=" + web});
  ASSERT_TRUE(test::eventually(
      [&] { return exporter.log().find("port 1 failed") != std::string::npos; }, 10));
  for (const char* path : {"/", "/metrics", "/healthz", "/nope", "/METRICS", "//metrics",
                           "/metrics/", "/%6detrics", "/./metrics", "/x/../metrics", "/metrics?x=1",
                           "/probe", "/probe?target=db", "/probe?target=nope"}) {
    auto [status, body] = http_request(exporter.port(), path);
    EXPECT_EQ(status, 401) << path;
    EXPECT_THAT(body, HasSubstr("WWW-Authenticate: Basic")) << path;
    EXPECT_THAT(body, Not(HasSubstr("pg_up"))) << path;
    EXPECT_EQ(http_request(exporter.port(), path, kBadAuth).first, 401) << path;
  }
  EXPECT_EQ(http_request(exporter.port(), "/metrics", "", "POST").first, 401);
  auto [status, metrics] = http_request(exporter.port(), "/metrics", kGoodAuth);
  EXPECT_EQ(status, 200);
  EXPECT_THAT(metrics, HasSubstr("pg_up{target=\"db\"} 0"));
  auto [probe_status, probe] = http_request(exporter.port(), "/probe?target=db", kGoodAuth);
  EXPECT_EQ(probe_status, 200);
  EXPECT_THAT(probe, HasSubstr("pg_up{target=\"db\"} 0"));
  EXPECT_EQ(http_request(exporter.port(), "/healthz", kGoodAuth).first, 200);
  EXPECT_EQ(http_request(exporter.port(), "/nope", kGoodAuth).first, 404);
  EXPECT_EQ(http_request(exporter.port(), "/metrics", kGoodAuth, "PUT").first, 405);
  EXPECT_THAT(http_request(exporter.port(), "/", kGoodAuth).second, HasSubstr("port 1 failed"));
  EXPECT_THAT(exporter.log(), Not(HasSubstr("scrape-secret")));
  EXPECT_THAT(exporter.log(), Not(HasSubstr("$2b$")));
}

TEST(WebSecurity, ConfigReloadNeedsCredentialsAndOnlyAcceptsPost) {
  const std::string web = write_temp("web_security_reload.yml", kUsers);
  ExporterProcess exporter(refused_target_config(), {"--web.config.file=" + web});
  EXPECT_EQ(http_request(exporter.port(), "/-/reload", "", "POST").first, 401);
  EXPECT_EQ(http_request(exporter.port(), "/-/reload", kBadAuth, "POST").first, 401);
  auto [get_status, get] = http_request(exporter.port(), "/-/reload", kGoodAuth);
  EXPECT_EQ(get_status, 405);
  EXPECT_THAT(get, HasSubstr("Allow: POST"));
  EXPECT_THAT(exporter.log(), Not(HasSubstr("configuration reloaded")));
  EXPECT_EQ(http_request(exporter.port(), "/-/reload", kGoodAuth, "POST").first, 200);
  EXPECT_THAT(exporter.log(), HasSubstr("configuration reloaded"));
}

TEST(WebSecurity, HealthzOpensWithoutAuthOnlyWhenConfigured) {
  const std::string web = write_temp("web_security_healthz.yml", kUsers);
  ExporterProcess exporter(refused_target_config("healthz_without_auth = true\n"),
                           {"--web.config.file=" + web});
  EXPECT_EQ(http_request(exporter.port(), "/healthz").first, 200);
  EXPECT_EQ(http_request(exporter.port(), "/metrics").first, 401);
  EXPECT_EQ(http_request(exporter.port(), "/").first, 401);
}

TEST(WebSecurity, ListenAddressMayBeRepeated) {
  auto [rc, out] = test::run_exporter(
      {"--config.check", "--web.listen-address=127.0.0.1:0", "--web.listen-address=127.0.0.1:0"},
      {{"DATA_SOURCE_NAME", "host=127.0.0.1 port=1"}});
  EXPECT_EQ(rc, 0) << out;
  ExporterProcess exporter(refused_target_config(), {"--web.listen-address=127.0.0.1:0"});
  EXPECT_EQ(occurrences(exporter.log(), "msg=listening"), 2u) << exporter.log();
}

// Plain HTTP on the TLS port fails the handshake: a client can make CivetWeb log that at will, so
// its lines are rate-limited (ten per minute per kind) while the counter still sees every one.
TEST(WebSecurity, FailedTlsHandshakesAreAllCountedButLoggedAtMostTenTimesAMinute) {
  const std::string web = write_temp(
      "web_tls_only.yml", "tls_server_config:\n  cert_file: " + test::source_dir() +
                              "/tests/web/server.pem\n  key_file: " + test::source_dir() +
                              "/tests/web/server.key\n");
  ExporterProcess exporter(refused_target_config(), {"--web.config.file=" + web});
  constexpr int kHandshakes = 30;
  for (int i = 0; i < kHandshakes; ++i) EXPECT_EQ(http_request(exporter.port(), "/").first, 0);

  EXPECT_EQ(occurrences(exporter.log(), "tls_handshake"), 10u) << exporter.log();

  const std::string body = test::build_dir() + "/web_tls_only_metrics.txt";
  const std::string curl =
      "curl -sk -o " + body + " https://127.0.0.1:" + std::to_string(exporter.port()) + "/metrics";
  ASSERT_EQ(std::system(curl.c_str()), 0) << curl;
  std::stringstream page;
  page << std::ifstream(body).rdbuf();
  const auto errors = test::find_sample(test::parse_exposition(page.str()),
                                        "pg_evolution_exporter_http_server_errors_total",
                                        {{"kind", "tls_handshake"}});
  ASSERT_TRUE(errors);
  EXPECT_EQ(*errors, kHandshakes);
}

}  // namespace
}  // namespace pge::test
