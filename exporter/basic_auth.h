// HTTP basic authentication against bcrypt hashes (the web config's basic_auth_users), safe to call
// from every CivetWeb worker thread at once. Mirrors exporter-toolkit's handler:
//  - the password is checked with libxcrypt's crypt_r and the full result compared in constant
//  time;
//  - an unknown user is checked against a fixed dummy hash, so the answer takes as long as for a
//    known user with a wrong password (no user enumeration by timing);
//  - successful checks are cached (keyed by an HMAC of user and password under a per-process random
//    key, never the password itself), so Prometheus' scrapes do not pay bcrypt's ~50 ms each;
//  - at most one bcrypt runs at a time and only a few requests may wait for it: the rest are told
//    "busy" at once, so a flood of random passwords costs one core and cannot hold every worker.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pge {

class BasicAuth {
 public:
  enum class Verdict { kAllowed, kDenied, kBusy };

  struct Limits {
    int max_waiting = 4;        // requests allowed to queue for the bcrypt slot
    int wait_ms = 2000;         // how long one of them may wait
    size_t cache_entries = 64;  // successful (user, password) pairs remembered
  };

  explicit BasicAuth(std::map<std::string, std::string> users_to_bcrypt);
  BasicAuth(std::map<std::string, std::string> users_to_bcrypt, Limits limits);

  bool enabled() const { return !users_.empty(); }

  // `authorization` is the request's Authorization header value (may be empty or null).
  Verdict check(const char* authorization);

  // Counters for the tests and the log (read without locking; approximate while requests run).
  uint64_t bcrypt_runs() const;

 private:
  using Digest = std::vector<unsigned char>;

  bool verify_with_bcrypt(const std::string& hash, const std::string& password) const;
  bool acquire_bcrypt_slot();
  void release_bcrypt_slot(bool remember_key, Digest key);
  Digest cache_key(std::string_view user, std::string_view password) const;
  bool cached(const Digest& key);

  const std::map<std::string, std::string> users_;
  const Limits limits_;
  unsigned char hmac_key_[32];

  std::string dummy_hash_;  // checked for unknown users

  mutable std::mutex mu_;  // guards the fields below
  std::condition_variable slot_free_;
  bool bcrypt_busy_ = false;  // one bcrypt at a time
  int waiting_ = 0;
  uint64_t bcrypt_runs_ = 0;
  std::vector<Digest> cache_;  // oldest first
};

// Decodes "Basic base64(user:password)". False when the header is absent or malformed.
bool parse_basic_authorization(const char* header, std::string& user, std::string& password);

}  // namespace pge
