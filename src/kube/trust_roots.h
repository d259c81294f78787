#pragma once
// The system's TLS trust roots, loaded once per process instead of once per connection.
//
// cpprest (boost.asio's ssl::context in upgrade_to_ssl) loads OpenSSL's default verify paths into every new
// connection's SSL_CTX: the whole system CA bundle, parsed again each time (23 ms of CPU per connection with Debian's
// 140-certificate bundle; most of the operator's start-up CPU: bench/README.md, "Start-up"). The transport replaces
// that store anyway (TlsPolicy::configure): with the kubeconfig's CA bundle, or with the roots loaded once here.
//
// Contract:
// - detachImplicitTrustRoots() is called first in main(), before any other thread exists (it calls setenv, which is
//   not safe beside a concurrent getenv). It records where OpenSSL finds the system roots (SSL_CERT_FILE and
//   SSL_CERT_DIR as set, else OpenSSL's built-in defaults), then points both variables at a path that does not exist,
//   so that the implicit per-connection load finds nothing and costs nothing. Calling it again does nothing. The
//   operator and kubectl-medivote start no child process (no exec credential plugins: kube/config.cpp refuses them),
//   which would inherit the changed variables.
// - detachedSystemTrustRoots() is null until detachImplicitTrustRoots() has run. After, it is the process's one store
//   of the recorded system roots, loaded on first use (thread-safe); callers take their own reference
//   (SSL_CTX_set1_cert_store) and never modify it. Nothing loadable there gives an empty store: verification then
//   fails naming the unknown issuer, as it would have with the implicit load.

#include <openssl/x509.h>

#include <string>

namespace mv::kube {

void detachImplicitTrustRoots();

namespace detail {

struct TrustRootLocations {
  std::string file;  // a PEM bundle ("" = none)
  std::string dir;   // a directory of hashed certificates, or several separated by ':' ("" = none)
};

// Where OpenSSL's default verify paths point in this environment (what the implicit load would read).
TrustRootLocations defaultTrustRootLocations();

// A new store with the roots found at `where` (a missing file or directory is skipped). The caller owns it.
X509_STORE* loadTrustRoots(const TrustRootLocations& where);

X509_STORE* detachedSystemTrustRoots();

// Tests only, with no connection being set up meanwhile: undoes detachImplicitTrustRoots() (restores the variables as
// they were, releases the state's reference to the store).
void reattachImplicitTrustRootsForTesting();

}  // namespace detail
}  // namespace mv::kube
