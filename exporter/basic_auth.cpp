#include "exporter/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>

namespace pge {
namespace {

int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict standard base64 (padding required, as browsers, curl and Prometheus send it).
bool base64_decode(std::string_view in, std::string& out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  out.clear();
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const unsigned char c = static_cast<unsigned char>(in[i + j]);
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return false;  // data after padding
      v[j] = base64_value(c);
      if (v[j] < 0) return false;
    }
    const unsigned bits = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>((bits >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((bits >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(bits & 0xff);
  }
  return true;
}

// crypt_r's result for `setting`, or "" when libxcrypt refuses it. struct crypt_data is ~32 KiB, so
// it lives on the heap.
std::string bcrypt(const std::string& password, const std::string& setting) {
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  return out && out[0] != '*' ? std::string(out) : std::string();
}

// A valid bcrypt hash of a random password at the highest cost among the users.
std::string make_dummy_hash(const std::map<std::string, std::string>& users) {
  unsigned long cost = 4;
  for (const auto& [user, hash] : users) cost = std::max(cost, std::stoul(hash.substr(4, 2)));
  unsigned char random[16];
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  RAND_bytes(random, sizeof random);
  if (!crypt_gensalt_rn("$2b$", cost, reinterpret_cast<const char*>(random), sizeof random, setting,
                        sizeof setting)) {
    throw std::runtime_error("libxcrypt cannot make a bcrypt salt");
  }
  RAND_bytes(random, sizeof random);
  std::string hash =
      bcrypt(std::string(reinterpret_cast<const char*>(random), sizeof random), setting);
  if (hash.empty()) throw std::runtime_error("libxcrypt cannot compute bcrypt");
  return hash;
}

}  // namespace

bool parse_basic_authorization(const char* header, std::string& user, std::string& password) {
  if (!header) return false;
  std::string_view h(header);
  constexpr std::string_view prefix = "Basic ";
  if (h.size() <= prefix.size() || h.substr(0, prefix.size()) != prefix) return false;
  h.remove_prefix(prefix.size());
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  if (h.size() > 4096) return false;
  std::string decoded;
  if (!base64_decode(h, decoded)) return false;
  const size_t colon = decoded.find(':');  // the password may itself contain colons
  if (colon == std::string::npos) return false;
  user = decoded.substr(0, colon);
  password = decoded.substr(colon + 1);
  return true;
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users_to_bcrypt)
    : BasicAuth(std::move(users_to_bcrypt), Limits{}) {}

BasicAuth::BasicAuth(std::map<std::string, std::string> users_to_bcrypt, Limits limits)
    : users_(std::move(users_to_bcrypt)), limits_(limits) {
  if (RAND_bytes(hmac_key_, sizeof hmac_key_) != 1)
    throw std::runtime_error("no randomness for the auth cache key");
  if (!users_.empty()) dummy_hash_ = make_dummy_hash(users_);
}

BasicAuth::Digest BasicAuth::cache_key(std::string_view user, std::string_view password) const {
  // SHA-256 over secret key, user, NUL, password: the cache never holds anything that would let a
  // memory dump be turned back into a password without bcrypt-free brute force of the random key.
  Digest out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx.get(), hmac_key_, sizeof hmac_key_);
  EVP_DigestUpdate(ctx.get(), user.data(), user.size());
  EVP_DigestUpdate(ctx.get(), "", 1);
  EVP_DigestUpdate(ctx.get(), password.data(), password.size());
  EVP_DigestFinal_ex(ctx.get(), out.data(), &len);
  out.resize(len);
  return out;
}

bool BasicAuth::cached(const Digest& key) {
  std::lock_guard<std::mutex> lock(mu_);
  bool found = false;
  for (const auto& entry : cache_)
    found |= CRYPTO_memcmp(entry.data(), key.data(), key.size()) == 0;
  return found;
}

bool BasicAuth::verify_with_bcrypt(const std::string& hash, const std::string& password) const {
  const std::string computed = bcrypt(password, hash);
  return computed.size() == hash.size() &&
         CRYPTO_memcmp(computed.data(), hash.data(), hash.size()) == 0;
}

bool BasicAuth::acquire_bcrypt_slot() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!bcrypt_busy_) {
    bcrypt_busy_ = true;
    return true;
  }
  if (waiting_ >= limits_.max_waiting) return false;
  ++waiting_;
  const bool got = slot_free_.wait_for(lock, std::chrono::milliseconds(limits_.wait_ms),
                                       [this] { return !bcrypt_busy_; });
  --waiting_;
  if (got) bcrypt_busy_ = true;
  return got;
}

void BasicAuth::release_bcrypt_slot(bool remember_key, Digest key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    bcrypt_busy_ = false;
    ++bcrypt_runs_;
    if (remember_key) {
      if (cache_.size() >= limits_.cache_entries) cache_.erase(cache_.begin());
      cache_.push_back(std::move(key));
    }
  }
  slot_free_.notify_one();
}

BasicAuth::Verdict BasicAuth::check(const char* authorization) {
  std::string user, password;
  if (!parse_basic_authorization(authorization, user, password)) return Verdict::kDenied;
  Digest key = cache_key(user, password);
  if (cached(key)) return Verdict::kAllowed;
  if (!acquire_bcrypt_slot()) return Verdict::kBusy;
  const auto it = users_.find(user);
  const bool known = it != users_.end();
  const bool ok = verify_with_bcrypt(known ? it->second : dummy_hash_, password) && known;
  release_bcrypt_slot(ok, std::move(key));
  return ok ? Verdict::kAllowed : Verdict::kDenied;
}

uint64_t BasicAuth::bcrypt_runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bcrypt_runs_;
}

}  // namespace pge
