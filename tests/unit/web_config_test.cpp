// The web config (exporter-toolkit format) is strict: every bad file in tests/web/bad is refused
// with file, line and the key at fault; a good one loads with paths resolved next to the file.
#include "exporter/web_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/test_support.h"

namespace pge {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string web_dir() { return test::source_dir() + "/tests/web"; }

std::string first_line_expectation(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string first;
  std::getline(in, first);
  const std::string marker = "# expect: ";
  return first.rfind(marker, 0) == 0 ? first.substr(marker.size()) : "";
}

std::string rendered(const WebConfigResult& r) {
  std::string all;
  for (const auto& e : r.errors) all += e.render() + "\n";
  return all;
}

TEST(WebConfig, EveryBadWebConfigIsRejectedNamingTheKey) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(web_dir() + "/bad")) {
    ++files;
    const std::string expect = first_line_expectation(entry.path());
    ASSERT_FALSE(expect.empty()) << entry.path() << " lacks a '# expect: ' first line";
    WebConfigResult r = load_web_config(entry.path().string());
    EXPECT_FALSE(r.config.has_value()) << entry.path();
    EXPECT_THAT(rendered(r), HasSubstr(expect)) << entry.path();
  }
  EXPECT_GE(files, 15);
}

TEST(WebConfig, AFullConfigLoadsWithPathsRelativeToTheFile) {
  WebConfigResult r = load_web_config_text(R"(
tls_server_config:
  cert_file: server.pem
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.pem
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP256]
basic_auth_users:
  prometheus: $2y$04$abcdefghijklmnopqrstuuPp7HPfoAs8I2dCQCQ/fW7zEJv8I8C8e
http_server_config:
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
)",
                                           "web.yml", web_dir());
  ASSERT_TRUE(r.config) << rendered(r);
  ASSERT_TRUE(r.config->tls);
  EXPECT_EQ(r.config->tls->cert_file, web_dir() + "/server.pem");
  EXPECT_EQ(r.config->tls->client_auth, ClientAuth::kRequireAndVerify);
  EXPECT_EQ(r.config->tls->min_version, 0x0304);
  EXPECT_EQ(r.config->tls->cipher_suites,
            std::vector<std::string>{"ECDHE-ECDSA-AES128-GCM-SHA256"});
  EXPECT_EQ(r.config->tls->curves, (std::vector<std::string>{"X25519", "P-256"}));
  EXPECT_EQ(r.config->basic_auth_users.size(), 1u);
  EXPECT_EQ(r.config->headers.size(), 2u);
}

TEST(WebConfig, AnEmptyFileMeansPlainHttpWithoutAuth) {
  WebConfigResult r = load_web_config_text("", "empty.yml", web_dir());
  ASSERT_TRUE(r.config) << rendered(r);
  EXPECT_FALSE(r.config->tls);
  EXPECT_TRUE(r.config->basic_auth_users.empty());
}

TEST(WebConfig, TlsDefaultsToTls12Minimum) {
  WebConfigResult r = load_web_config_text(
      "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n", "w.yml", web_dir());
  ASSERT_TRUE(r.config && r.config->tls) << rendered(r);
  EXPECT_EQ(r.config->tls->min_version, 0x0303);
  EXPECT_EQ(r.config->tls->client_auth, ClientAuth::kNone);
}

TEST(WebConfig, ANonBcryptValueIsNeverEchoedInTheError) {
  WebConfigResult r = load_web_config_text("basic_auth_users:\n  alice: correct-horse-battery\n",
                                           "w.yml", web_dir());
  EXPECT_FALSE(r.config);
  EXPECT_THAT(rendered(r), HasSubstr("basic_auth_users.alice"));
  EXPECT_THAT(rendered(r), Not(HasSubstr("correct-horse")));
}

TEST(WebConfig, AMissingFileIsAnError) {
  WebConfigResult r = load_web_config(web_dir() + "/no-such-file.yml");
  EXPECT_FALSE(r.config);
  EXPECT_THAT(rendered(r), HasSubstr("cannot read the web config file"));
}

TEST(WebConfig, BcryptHashShapes) {
  EXPECT_TRUE(is_bcrypt_hash("$2y$04$abcdefghijklmnopqrstuuPp7HPfoAs8I2dCQCQ/fW7zEJv8I8C8e"));
  EXPECT_TRUE(is_bcrypt_hash("$2a$10$2ztQ4ab2IVzeKtv2fS2oiuJiltsoKBwWyzmDAAHauBBVzeHriMHIi"));
  EXPECT_TRUE(is_bcrypt_hash("$2b$10$2ztQ4ab2IVzeKtv2fS2oiuJiltsoKBwWyzmDAAHauBBVzeHriMHIi"));
  EXPECT_FALSE(is_bcrypt_hash("$2x$10$2ztQ4ab2IVzeKtv2fS2oiuJiltsoKBwWyzmDAAHauBBVzeHriMHIi"));
  EXPECT_FALSE(is_bcrypt_hash("$2b$03$2ztQ4ab2IVzeKtv2fS2oiuJiltsoKBwWyzmDAAHauBBVzeHriMHIi"));
  EXPECT_FALSE(is_bcrypt_hash("$2b$10$2ztQ4ab2IVzeKtv2fS2oiuJiltsoKBwWyzmDAAHauBBVzeHriMHI"));
  EXPECT_FALSE(is_bcrypt_hash("$y$j9T$abc$def"));
  EXPECT_FALSE(is_bcrypt_hash(""));
}

}  // namespace
}  // namespace pge
