// The companion of libssl_compat.cpp: the soname "libcrypto.so" over libcrypto.so.3, so that
// CivetWeb's dlopen("libcrypto.so") works on hosts without libssl-dev (which is what ships the
// unversioned libcrypto.so link). No functions of its own besides the link marker.
extern "C" __attribute__((visibility("default"))) int pge_libcrypto_compat(void) { return 1; }
