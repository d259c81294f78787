// The system's trust roots loaded once per process (src/kube/trust_roots.h): where OpenSSL's default paths point,
// loading them into a store, and the transport after detachImplicitTrustRoots(): a connection's implicit load finds
// nothing, and a server is still verified against the recorded system roots, or against the configured CA only.

#include "kube/trust_roots.h"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "kube/transport.h"
#include "support/scoped_env.h"
#include "support/scripted_server.h"
#include "support/test_pki.h"
#include "support/tls_fixtures.h"

using mv::kube::TransportError;
using mv::kube::detail::TrustRootLocations;
using mv::testing::Expect;
using mv::testing::Reply;
using mv::testing::ScopedEnv;
using mv::testing::ScriptedServer;
using mv::testing::getRequest;
using mv::testing::TestPki;
using mv::testing::tlsServer;
using mv::testing::trusting;

namespace {

// A PEM file holding `pem`, removed with the object.
class TempPem {
 public:
  explicit TempPem(const std::string& pem) {
    int fd = ::mkstemp(path_);
    REQUIRE(fd >= 0);
    ::close(fd);
    std::ofstream(path_) << pem;
  }
  ~TempPem() { ::unlink(path_); }
  std::string path() const { return path_; }

 private:
  char path_[40] = "/tmp/medivote-trust-roots-XXXXXX";
};

int certificatesIn(X509_STORE* store) {
  int n = 0;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i)
    if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objects, i)) == X509_LU_X509) ++n;
  return n;
}

// What cpprest does to every new connection's context (boost.asio's ssl::context::set_default_verify_paths).
int certificatesOfAnImplicitLoad() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_default_verify_paths(ctx);
  int n = certificatesIn(SSL_CTX_get_cert_store(ctx));
  SSL_CTX_free(ctx);
  return n;
}

// True when a GET over `transport` is refused because the server's CA is not trusted.
bool refusedAsUnknownAuthority(mv::kube::Transport& transport) {
  try {
    transport.send(getRequest("/never"));
  } catch (const TransportError& e) {
    return e.kind() == TransportError::Kind::TlsUnknownAuthority;
  }
  return false;
}

// Detached for the scope of a test; the variables and the state as they were afterwards.
struct ScopedDetach {
  ScopedDetach() { mv::kube::detachImplicitTrustRoots(); }
  ~ScopedDetach() { mv::kube::detail::reattachImplicitTrustRootsForTesting(); }
};

}  // namespace

TEST_CASE("trust roots: the default locations are SSL_CERT_FILE and SSL_CERT_DIR when set, else OpenSSL's own") {
  {
    ScopedEnv file("SSL_CERT_FILE", "/etc/medivote/bundle.pem");
    ScopedEnv dir("SSL_CERT_DIR", "/etc/medivote/certs:/usr/local/certs");
    TrustRootLocations where = mv::kube::detail::defaultTrustRootLocations();
    CHECK(where.file == "/etc/medivote/bundle.pem");
    CHECK(where.dir == "/etc/medivote/certs:/usr/local/certs");
  }
  const char* file = std::getenv("SSL_CERT_FILE");
  const char* dir = std::getenv("SSL_CERT_DIR");
  TrustRootLocations where = mv::kube::detail::defaultTrustRootLocations();
  CHECK(where.file == (file ? file : X509_get_default_cert_file()));
  CHECK(where.dir == (dir ? dir : X509_get_default_cert_dir()));
}

TEST_CASE("trust roots: a store is loaded from a bundle, and a missing bundle or directory gives an empty store") {
  const auto& pki = TestPki::shared();
  TempPem bundle(pki.ca.certPem + pki.otherCa.certPem);
  X509_STORE* two = mv::kube::detail::loadTrustRoots({bundle.path(), ""});
  CHECK(certificatesIn(two) == 2);
  X509_STORE_free(two);
  X509_STORE* none = mv::kube::detail::loadTrustRoots({"/nonexistent/bundle.pem", "/nonexistent/certs"});
  CHECK(certificatesIn(none) == 0);
  X509_STORE_free(none);
  CHECK(ERR_peek_error() == 0);  // nothing left on the thread's error queue
}

TEST_CASE("trust roots: once detached, a connection's implicit load finds nothing, and the roots are loaded once") {
  const auto& pki = TestPki::shared();
  TempPem bundle(pki.otherCa.certPem);
  ScopedEnv file("SSL_CERT_FILE", bundle.path());
  ScopedEnv dir("SSL_CERT_DIR", "/nonexistent/certs");
  CHECK(mv::kube::detail::detachedSystemTrustRoots() == nullptr);
  CHECK(certificatesOfAnImplicitLoad() == 1);  // control: before, every connection parses the bundle

  ScopedDetach detached;
  CHECK(certificatesOfAnImplicitLoad() == 0);
  CHECK(std::string(std::getenv("SSL_CERT_FILE")) != bundle.path());
  X509_STORE* roots = mv::kube::detail::detachedSystemTrustRoots();
  REQUIRE(roots != nullptr);
  CHECK(certificatesIn(roots) == 1);  // the recorded SSL_CERT_FILE
  CHECK(mv::kube::detail::detachedSystemTrustRoots() == roots);  // one store for the process
  mv::kube::detachImplicitTrustRoots();                           // again: nothing changes
  CHECK(mv::kube::detail::detachedSystemTrustRoots() == roots);
}

TEST_CASE("trust roots: once detached, a server is verified against the recorded system roots, or the CA given") {
  const auto& pki = TestPki::shared();
  ScriptedServer server(tlsServer(pki.otherServer));
  server.expect(Expect("GET", "/system-roots"), Reply::json(200, "{}"));
  TempPem bundle(pki.otherCa.certPem);  // the "system" roots trust the other CA
  ScopedEnv file("SSL_CERT_FILE", bundle.path());
  ScopedDetach detached;

  // No CA configured: the system roots decide, although this connection's own implicit load was empty.
  auto systemTrust = mv::kube::makeCpprestTransport(trusting(server.url(), ""));
  CHECK(systemTrust->send(getRequest("/system-roots")).status == 200);

  // A CA configured: only that CA, not the system roots.
  auto configured = mv::kube::makeCpprestTransport(trusting(server.url(), pki.ca.certPem));
  CHECK(refusedAsUnknownAuthority(*configured));
  CHECK(server.requests().size() == 1);
}

TEST_CASE("trust roots: once detached, with no system roots at all a server of any CA is refused") {
  const auto& pki = TestPki::shared();
  ScriptedServer server(tlsServer(pki.otherServer));
  ScopedEnv file("SSL_CERT_FILE", "/nonexistent/bundle.pem");
  ScopedEnv dir("SSL_CERT_DIR", "/nonexistent/certs");
  ScopedDetach detached;
  auto transport = mv::kube::makeCpprestTransport(trusting(server.url(), ""));
  CHECK(refusedAsUnknownAuthority(*transport));
  CHECK(server.requests().empty());
}
