// Basic auth: bcrypt through libxcrypt, unknown users cost a bcrypt too, successes are cached (and
// only successes), and concurrent bcrypt work is bounded.
#include "exporter/basic_auth.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace pge {
namespace {

// htpasswd-style hash of "x" at cost 4 (the test's cost: fast) and of "scrape-secret" at cost 10.
constexpr const char* kHashOfX = "$2y$04$abcdefghijklmnopqrstuuPp7HPfoAs8I2dCQCQ/fW7zEJv8I8C8e";
constexpr const char* kHashOfSecret =
    "$2b$10$2ztQ4ab2IVzeKtv2fS2oiuJiltsoKBwWyzmDAAHauBBVzeHriMHIi";

using Users = std::map<std::string, std::string>;

std::string header(const std::string& user_colon_password) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "Basic ";
  const std::string& in = user_colon_password;
  for (size_t i = 0; i < in.size(); i += 3) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? alphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? alphabet[n & 63] : '=';
  }
  return out;
}

TEST(BasicAuth, RightPasswordPassesWrongOrUnknownDoNot) {
  BasicAuth auth(Users{{"alice", kHashOfX}, {"prom", kHashOfSecret}});
  EXPECT_EQ(auth.check(header("alice:x").c_str()), BasicAuth::Verdict::kAllowed);
  EXPECT_EQ(auth.check(header("prom:scrape-secret").c_str()), BasicAuth::Verdict::kAllowed);
  EXPECT_EQ(auth.check(header("alice:y").c_str()), BasicAuth::Verdict::kDenied);
  EXPECT_EQ(auth.check(header("prom:x").c_str()), BasicAuth::Verdict::kDenied);
  EXPECT_EQ(auth.check(header("mallory:x").c_str()), BasicAuth::Verdict::kDenied);
  EXPECT_EQ(auth.check(header("alice:").c_str()), BasicAuth::Verdict::kDenied);
}

TEST(BasicAuth, MalformedHeadersAreDeniedWithoutBcrypt) {
  BasicAuth auth(Users{{"alice", kHashOfX}});
  for (const char* h :
       {"", "Basic", "Basic ", "basic YWxpY2U6eA==", "Bearer abc", "Basic YWxpY2U6eA", "Basic ####",
        "Basic YWxpY2U=", "Basic YW=xpY2U6eA=="}) {
    EXPECT_EQ(auth.check(h), BasicAuth::Verdict::kDenied) << h;
  }
  EXPECT_EQ(auth.check(nullptr), BasicAuth::Verdict::kDenied);
  EXPECT_EQ(auth.bcrypt_runs(), 0u);
}

TEST(BasicAuth, PasswordsContainingColonsWork) {
  BasicAuth auth(Users{{"alice", kHashOfX}});
  std::string user, password;
  ASSERT_TRUE(parse_basic_authorization(header("alice:a:b:c").c_str(), user, password));
  EXPECT_EQ(user, "alice");
  EXPECT_EQ(password, "a:b:c");
}

TEST(BasicAuth, UnknownUsersPayForABcryptToo) {
  BasicAuth auth(Users{{"alice", kHashOfX}});
  auth.check(header("mallory:x").c_str());
  EXPECT_EQ(auth.bcrypt_runs(), 1u);
}

TEST(BasicAuth, SuccessesAreCachedFailuresAreNot) {
  BasicAuth auth(Users{{"alice", kHashOfX}});
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(auth.check(header("alice:x").c_str()), BasicAuth::Verdict::kAllowed);
  EXPECT_EQ(auth.bcrypt_runs(), 1u);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(auth.check(header("alice:z").c_str()), BasicAuth::Verdict::kDenied);
  EXPECT_EQ(auth.bcrypt_runs(), 4u);
}

TEST(BasicAuth, ConcurrentBcryptIsBoundedExtraRequestsAreTurnedAwayAtOnce) {
  // Cost 10 (~50 ms each): 16 threads with wrong passwords at once; one runs, two may wait, the
  // rest are told busy without running bcrypt.
  BasicAuth auth(Users{{"prom", kHashOfSecret}}, BasicAuth::Limits{2, 5000, 8});
  std::atomic<int> busy{0}, denied{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      auto v = auth.check(header("prom:wrong" + std::to_string(i)).c_str());
      (v == BasicAuth::Verdict::kBusy ? busy : denied)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(busy.load(), 1);
  EXPECT_EQ(auth.bcrypt_runs(), static_cast<uint64_t>(denied.load()));
  // The cached right password still passes at once while nothing else runs.
  EXPECT_EQ(auth.check(header("prom:scrape-secret").c_str()), BasicAuth::Verdict::kAllowed);
}

}  // namespace
}  // namespace pge
