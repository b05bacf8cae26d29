// In-process TLS for the HTTP server: the OpenSSL 3 server context built from the web config, and
// the guard that makes CivetWeb's TLS usable (or refuses to start). Why the context is ours and not
// CivetWeb's, and why a compatibility library is linked, is explained in docs/security.md:
// Debian 12's CivetWeb 1.15 is built for the OpenSSL 1.1 API, crashes on the first HTTPS request
// without the compatibility library, and with its own context turns Extended Master Secret off.
// Called from the main thread at start-up only.
#pragma once

#include <stdexcept>
#include <string>

#include "exporter/web_config.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace pge {

// A TLS setting that cannot be applied; `key` is the web config key at fault.
class TlsSetupError : public std::runtime_error {
 public:
  TlsSetupError(std::string key, const std::string& message)
      : std::runtime_error(message), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

// A server context: TLS 1.2 minimum (TLS 1.0/1.1 refused), OpenSSL 3's default options (Extended
// Master Secret on, renegotiation off), certificate chain and key checked against each other, and
// the client-certificate policy. The caller owns the result (SSL_CTX_free). Throws TlsSetupError.
SSL_CTX* make_server_tls_context(const TlsServerConfig& config);

// Loads CivetWeb's TLS support and checks it is complete. Throws std::runtime_error with the reason
// (for example the compatibility library is missing) instead of letting the first HTTPS request
// crash the process.
void require_civetweb_tls();

}  // namespace pge
