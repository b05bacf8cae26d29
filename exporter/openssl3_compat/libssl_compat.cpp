// Compatibility library for Debian 12's CivetWeb 1.15 on OpenSSL 3 (docs/security.md, "TLS route").
// CivetWeb is built for the OpenSSL 1.1 API and loads OpenSSL at run time with dlopen("libssl.so"),
// then looks up SSL_get_peer_certificate, which OpenSSL 3 only provides as a macro for
// SSL_get1_peer_certificate. Without that function CivetWeb either refuses TLS or (through a
// reference-count bug) starts anyway and calls a NULL pointer after the first handshake.
// This library carries the soname "libssl.so" and depends on libssl.so.3; the exporter links it, so
// CivetWeb's dlopen("libssl.so") finds it already loaded, and dlsym on it searches libssl.so.3 as
// well. It adds the one missing name and nothing else. A CivetWeb built for OpenSSL 3 never asks
// for the name, so the library is then simply unused.
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

extern "C" {

int pge_libcrypto_compat(void);

__attribute__((visibility("default"))) X509* SSL_get_peer_certificate(const SSL* ssl) {
  return SSL_get1_peer_certificate(ssl);
}

// Called by the exporter before it starts TLS: proves the library is linked (and keeps the linker
// from dropping it as unused).
__attribute__((visibility("default"))) int pge_civetweb_openssl3_compat(void) {
  return pge_libcrypto_compat();
}
}
