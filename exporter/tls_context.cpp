#include "exporter/tls_context.h"

#include <civetweb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509err.h>

#include <memory>

extern "C" int pge_civetweb_openssl3_compat(void);

namespace pge {
namespace {

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

int verify_mode(ClientAuth auth) {
  switch (auth) {
    case ClientAuth::kNone:
      return SSL_VERIFY_NONE;
    case ClientAuth::kVerifyIfGiven:
      return SSL_VERIFY_PEER;
    case ClientAuth::kRequireAndVerify:
      return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    // Asked for (or required) but not verified: the callback accepts any certificate.
    case ClientAuth::kRequest:
      return SSL_VERIFY_PEER;
    case ClientAuth::kRequire:
      return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  return SSL_VERIFY_NONE;
}

int accept_any_certificate(int, X509_STORE_CTX*) { return 1; }

template <typename T>
std::string joined(const std::vector<T>& items, char sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : std::string(1, sep)) + s;
  return out;
}

void set_client_auth(SSL_CTX* ctx, const TlsServerConfig& config) {
  const bool verifies = config.client_auth == ClientAuth::kVerifyIfGiven ||
                        config.client_auth == ClientAuth::kRequireAndVerify;
  if (verifies) {
    if (SSL_CTX_load_verify_locations(ctx, config.client_ca_file.c_str(), nullptr) != 1) {
      throw TlsSetupError("client_ca_file", "cannot load CA certificates from " +
                                                config.client_ca_file + ": " + openssl_errors());
    }
    // Tells clients which CAs are accepted, so that curl and Prometheus pick the right certificate.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file.c_str());
    if (names) SSL_CTX_set_client_CA_list(ctx, names);
  }
  SSL_CTX_set_verify(ctx, verify_mode(config.client_auth),
                     verifies ? nullptr : accept_any_certificate);
}

TlsSetupError key_mismatch(const TlsServerConfig& config) {
  return TlsSetupError("key_file", "the key in " + config.key_file +
                                       " does not match the certificate in " + config.cert_file);
}

}  // namespace

SSL_CTX* make_server_tls_context(const TlsServerConfig& config) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        SSL_CTX_free);
  if (!ctx) throw TlsSetupError("", "cannot create a TLS context: " + openssl_errors());
  // OpenSSL 3's defaults are kept (Extended Master Secret on, no client renegotiation); only the
  // floor and the ticket/compression hardening are added.
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_min_proto_version(ctx.get(), config.min_version) != 1) {
    throw TlsSetupError("min_version", "cannot set the minimum TLS version: " + openssl_errors());
  }
  if (config.max_version && SSL_CTX_set_max_proto_version(ctx.get(), config.max_version) != 1) {
    throw TlsSetupError("max_version", "cannot set the maximum TLS version: " + openssl_errors());
  }
  if (!config.cipher_suites.empty() &&
      SSL_CTX_set_cipher_list(ctx.get(), joined(config.cipher_suites, ':').c_str()) != 1) {
    throw TlsSetupError("cipher_suites",
                        "OpenSSL accepts none of the cipher suites: " + openssl_errors());
  }
  if (!config.curves.empty() &&
      SSL_CTX_set1_groups_list(ctx.get(), joined(config.curves, ':').c_str()) != 1) {
    throw TlsSetupError("curve_preferences", "OpenSSL refuses the curves: " + openssl_errors());
  }
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), config.cert_file.c_str()) != 1) {
    throw TlsSetupError("cert_file", "cannot load a PEM certificate chain from " +
                                         config.cert_file + ": " + openssl_errors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      throw key_mismatch(config);
    throw TlsSetupError("key_file", "cannot load a PEM private key from " + config.key_file + ": " +
                                        openssl_errors());
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) throw key_mismatch(config);
  set_client_auth(ctx.get(), config);
  return ctx.release();
}

void require_civetweb_tls() {
  // The compatibility library must be loaded before CivetWeb opens "libssl.so" (see the header).
  if (pge_civetweb_openssl3_compat() != 1) {
    throw std::runtime_error(
        "TLS unavailable: the CivetWeb/OpenSSL 3 compatibility library is not loaded");
  }
  const unsigned features = mg_init_library(MG_FEATURES_TLS);
  if (!(features & MG_FEATURES_TLS)) {
    mg_exit_library();
    throw std::runtime_error(
        "TLS unavailable: CivetWeb could not load OpenSSL (libssl.so/libcrypto.so with every "
        "function it needs); refusing to start rather than serve TLS that crashes");
  }
}

}  // namespace pge
