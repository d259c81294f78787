#pragma once
// Test helper: the pieces the TLS tests of the transport share (tests/unit/kube/tls_test.cpp, trust_roots_test.cpp):
// a scripted server presenting a certificate, a GET, and a connection configuration as a kubeconfig gives it.

#include <chrono>
#include <string>
#include <utility>

#include "kube/config.h"
#include "kube/transport.h"
#include "support/scripted_server.h"
#include "support/test_pki.h"

namespace mv::testing {

inline ServerOptions tlsServer(const CertAndKey& cert) {
  ServerOptions o;
  o.tls = true;
  o.certPem = cert.certPem;
  o.keyPem = cert.keyPem;
  return o;
}

inline kube::HttpRequest getRequest(std::string path) {
  kube::HttpRequest r;
  r.method = "GET";
  r.pathAndQuery = std::move(path);
  r.timeout = std::chrono::seconds(5);
  return r;
}

// A connection configuration as a kubeconfig with certificate-authority-data `caPem` ("" = none) would give.
inline kube::ConnectionConfig trusting(const std::string& server, const std::string& caPem) {
  kube::ConnectionConfig c;
  c.server = server;
  c.caPem = caPem;
  c.source = "kubeconfig /tmp/test-kubeconfig (context kind-medivote)";
  return c;
}

}  // namespace mv::testing
