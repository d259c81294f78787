// TLS of the cpprest transport against the scripted server, with certificates generated at test time: trust only
// the configured CA, server name checks (DNS and IP SANs, tls-server-name), client certificates from PEM data, and
// errors that say which of these failed.

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "kube/transport.h"
#include "support/scoped_env.h"
#include "support/scripted_server.h"
#include "support/tls_fixtures.h"
#include "support/test_pki.h"

using namespace std::chrono_literals;
using mv::kube::CancelToken;
using mv::kube::ConnectionConfig;
using mv::kube::HttpRequest;
using mv::kube::TransportError;
using mv::testing::CertAndKey;
using mv::testing::Expect;
using mv::testing::Reply;
using mv::testing::ScopedEnv;
using mv::testing::ScriptedServer;
using mv::testing::ServerOptions;
using mv::testing::TestPki;
using mv::testing::tlsServer;
using mv::testing::trusting;
using Kind = TransportError::Kind;

namespace {

HttpRequest get(std::string path) { return mv::testing::getRequest(std::move(path)); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

template <typename Fn>
TransportError expectTransportError(Fn&& fn) {
  try {
    fn();
  } catch (const TransportError& e) {
    MESSAGE((std::string(mv::kube::kindName(e.kind())) + ": " + e.what()));
    return e;
  }
  FAIL("no TransportError was thrown");
  return TransportError(Kind::Protocol, "unreachable");
}

}  // namespace

TEST_CASE("TLS: a client certificate from PEM data authenticates the client (EC key, PKCS#8)") {
  const auto& pki = TestPki::shared();
  ServerOptions o = tlsServer(pki.server);
  o.clientCaPem = pki.ca.certPem;
  o.requireClientCert = true;
  ScriptedServer server(o);
  server.expect(Expect("GET", "/version"), Reply::json(200, R"({"gitVersion":"v1.32.0"})"));
  ConnectionConfig c = trusting(server.url(), pki.ca.certPem);
  c.clientCertPem = pki.client.certPem;
  c.clientKeyPem = pki.client.keyPem;
  auto transport = mv::kube::makeCpprestTransport(c);

  auto resp = transport->send(get("/version"));

  CHECK(resp.status == 200);
  CHECK(resp.body == R"({"gitVersion":"v1.32.0"})");
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].clientCertCommonName == "admin");
  CHECK(contains(server.requests()[0].clientCertSubject, "O=system:masters"));
  CHECK(server.tlsErrors().empty());
}

TEST_CASE("TLS: a client certificate with an RSA key in traditional PEM authenticates too") {
  const auto& pki = TestPki::shared();
  ServerOptions o = tlsServer(pki.server);
  o.clientCaPem = pki.ca.certPem;
  o.requireClientCert = true;
  ScriptedServer server(o);
  server.expect(Expect("GET", "/version"), Reply::json(200, "{}"));
  ConnectionConfig c = trusting(server.url(), pki.ca.certPem);
  c.clientCertPem = TestPki::rsaClient().certPem;
  c.clientKeyPem = TestPki::rsaClient().keyPem;
  REQUIRE(contains(c.clientKeyPem, "BEGIN RSA PRIVATE KEY"));
  auto transport = mv::kube::makeCpprestTransport(c);
  CHECK(transport->send(get("/version")).status == 200);
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].clientCertCommonName == "admin-rsa");
}

TEST_CASE("TLS: the IP SAN 127.0.0.1 and the DNS SAN localhost are accepted") {
  const auto& pki = TestPki::shared();
  ScriptedServer server(tlsServer(pki.server));
  server.expect(Expect("GET", "/by-ip"), Reply::json(200, "{}"));
  server.expect(Expect("GET", "/by-name"), Reply::json(200, "{}"));
  auto byIp = mv::kube::makeCpprestTransport(trusting(server.url(), pki.ca.certPem));
  CHECK(byIp->send(get("/by-ip")).status == 200);
  auto byName =
      mv::kube::makeCpprestTransport(trusting("https://localhost:" + std::to_string(server.port()), pki.ca.certPem));
  CHECK(byName->send(get("/by-name")).status == 200);
  CHECK(server.failures().empty());
  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].tlsServerName.empty());  // no SNI for an IP address
  CHECK(requests[1].tlsServerName == "localhost");
}

TEST_CASE("TLS: a server signed by another CA is refused, even when that CA is in the system trust store") {
  const auto& pki = TestPki::shared();
  ScriptedServer server(tlsServer(pki.otherServer));
  server.expect(Expect("GET", "/system-store"), Reply::json(200, "{}"));
  // Put the other CA in the "system" store (OpenSSL's default verify paths honour SSL_CERT_FILE).
  char path[] = "/tmp/medivote-system-ca-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  std::ofstream(path) << pki.otherCa.certPem;
  ScopedEnv env("SSL_CERT_FILE", path);

  // Control: without a configured CA the system store decides, and it trusts the other CA.
  auto systemTrust = mv::kube::makeCpprestTransport(trusting(server.url(), ""));
  CHECK(systemTrust->send(get("/system-store")).status == 200);

  // With certificate-authority-data, only that CA is trusted.
  auto transport = mv::kube::makeCpprestTransport(trusting(server.url(), pki.ca.certPem));
  auto e = expectTransportError([&] { transport->send(get("/never")); });
  ::unlink(path);
  CHECK(e.kind() == Kind::TlsUnknownAuthority);
  CHECK(contains(e.what(),
                 "not signed by the configured certificate authority (certificate-authority of "
                 "kubeconfig /tmp/test-kubeconfig (context kind-medivote))"));
  CHECK(contains(e.what(), "CN=unrelated-ca"));
  CHECK(server.requests().size() == 1);  // only the control request got through
}

TEST_CASE("TLS: a server certificate for another name is refused") {
  const auto& pki = TestPki::shared();
  ScriptedServer server(tlsServer(pki.wrongNameServer));
  auto transport = mv::kube::makeCpprestTransport(trusting(server.url(), pki.ca.certPem));
  auto e = expectTransportError([&] { transport->send(get("/never")); });
  CHECK(e.kind() == Kind::TlsNameMismatch);
  CHECK(contains(e.what(), "does not name 127.0.0.1"));
  CHECK(contains(e.what(), "wrong.example.com"));
  CHECK(server.requests().empty());
}

TEST_CASE("TLS: a certificate for 127.0.0.1 does not name 127.0.0.2") {
  const auto& pki = TestPki::shared();
  ServerOptions o = tlsServer(pki.server);
  o.bindAddress = "127.0.0.2";
  ScriptedServer server(o);
  auto transport = mv::kube::makeCpprestTransport(trusting(server.url(), pki.ca.certPem));
  auto e = expectTransportError([&] { transport->send(get("/never")); });
  CHECK(e.kind() == Kind::TlsNameMismatch);
  CHECK(contains(e.what(), "does not name 127.0.0.2"));
  CHECK(server.requests().empty());
}

TEST_CASE("TLS: tls-server-name replaces the URL's host in the name check and in SNI") {
  const auto& pki = TestPki::shared();
  ScriptedServer server(tlsServer(pki.wrongNameServer));
  server.expect(Expect("GET", "/ok"), Reply::json(200, "{}"));
  ConnectionConfig c = trusting(server.url(), pki.ca.certPem);
  c.tlsServerName = "wrong.example.com";
  auto transport = mv::kube::makeCpprestTransport(c);
  CHECK(transport->send(get("/ok")).status == 200);
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].tlsServerName == "wrong.example.com");

  // And the other way round: the URL's host would match, but tls-server-name does not.
  ScriptedServer good(tlsServer(pki.server));
  c = trusting(good.url(), pki.ca.certPem);
  c.tlsServerName = "kubernetes.default.svc";
  auto e = expectTransportError([&] { mv::kube::makeCpprestTransport(c)->send(get("/never")); });
  CHECK(e.kind() == Kind::TlsNameMismatch);
  CHECK(contains(e.what(), "does not name kubernetes.default.svc"));
}

TEST_CASE("TLS: a server that requires a client certificate and gets none refuses the client (TLS 1.3)") {
  const auto& pki = TestPki::shared();
  ServerOptions o = tlsServer(pki.server);
  o.clientCaPem = pki.ca.certPem;
  o.requireClientCert = true;
  ScriptedServer server(o);
  auto transport = mv::kube::makeCpprestTransport(trusting(server.url(), pki.ca.certPem));
  auto e = expectTransportError([&] { transport->send(get("/never")); });
  CHECK(e.kind() == Kind::TlsClientRejected);
  CHECK(contains(e.what(), "requires a client certificate"));
  CHECK(server.requests().empty());
}

TEST_CASE("TLS: a server that requires a client certificate and gets none refuses the client (TLS 1.2)") {
  const auto& pki = TestPki::shared();
  ServerOptions o = tlsServer(pki.server);
  o.clientCaPem = pki.ca.certPem;
  o.requireClientCert = true;
  o.tls12Only = true;
  ScriptedServer server(o);
  auto transport = mv::kube::makeCpprestTransport(trusting(server.url(), pki.ca.certPem));
  auto e = expectTransportError([&] { transport->send(get("/never")); });
  CHECK(e.kind() == Kind::TlsClientRejected);
  CHECK(server.requests().empty());
}

TEST_CASE("TLS: a client certificate from an unknown CA is rejected by the server, and the error says so") {
  const auto& pki = TestPki::shared();
  ServerOptions o = tlsServer(pki.server);
  o.clientCaPem = pki.ca.certPem;
  o.requireClientCert = true;
  ScriptedServer server(o);
  ConnectionConfig c = trusting(server.url(), pki.ca.certPem);
  c.clientCertPem = pki.otherClient.certPem;
  c.clientKeyPem = pki.otherClient.keyPem;
  auto e = expectTransportError([&] { mv::kube::makeCpprestTransport(c)->send(get("/never")); });
  CHECK(e.kind() == Kind::TlsClientRejected);
  CHECK(contains(e.what(), "rejected the client certificate CN=intruder"));
  CHECK(server.requests().empty());
  CHECK(server.waitForTlsErrors(1, 2s));
}

TEST_CASE("TLS: a client certificate from an unknown CA is rejected by a TLS 1.2 server (alert during the handshake)") {
  const auto& pki = TestPki::shared();
  ServerOptions o = tlsServer(pki.server);
  o.clientCaPem = pki.ca.certPem;
  o.tls12Only = true;  // verification optional: a certificate is asked for, and checked when given
  ScriptedServer server(o);
  ConnectionConfig c = trusting(server.url(), pki.ca.certPem);
  c.clientCertPem = pki.otherClient.certPem;
  c.clientKeyPem = pki.otherClient.keyPem;
  auto e = expectTransportError([&] { mv::kube::makeCpprestTransport(c)->send(get("/never")); });
  CHECK(e.kind() == Kind::TlsClientRejected);
  CHECK(contains(e.what(), "rejected the client certificate CN=intruder"));
  CHECK(server.requests().empty());
}

TEST_CASE("TLS: insecure-skip-tls-verify accepts a server of an unknown CA and any name") {
  const auto& pki = TestPki::shared();
  ScriptedServer server(tlsServer(pki.otherServer));
  server.expect(Expect("GET", "/insecure"), Reply::json(200, "{}"));
  ScriptedServer wrongName(tlsServer(pki.wrongNameServer));
  wrongName.expect(Expect("GET", "/insecure"), Reply::json(200, "{}"));
  for (ScriptedServer* s : {&server, &wrongName}) {
    ConnectionConfig c = trusting(s->url(), pki.ca.certPem);
    c.insecureSkipTlsVerify = true;
    CHECK(mv::kube::makeCpprestTransport(c)->send(get("/insecure")).status == 200);
    CHECK(s->requests().size() == 1);
  }
}

TEST_CASE("TLS: streaming over TLS delivers pieces as they arrive") {
  const auto& pki = TestPki::shared();
  ScriptedServer server(tlsServer(pki.server));
  auto gate = std::make_shared<mv::testing::Gate>();
  server.expect(Expect("GET", "/watch"), Reply::chunked(200).chunk("one\n").waitFor(gate, 5s).chunk("two\n").end());
  auto transport = mv::kube::makeCpprestTransport(trusting(server.url(), pki.ca.certPem));
  CancelToken cancel;
  std::string got;
  transport->stream(
      get("/watch"),
      [&](std::string_view d) {
        got += d;
        if (got == "one\n") gate->open();
      },
      cancel);
  CHECK(got == "one\ntwo\n");
  CHECK(server.failures().empty());
}

TEST_CASE("TLS: a server that does not speak TLS is a TLS error that says so") {
  ServerOptions o;
  o.banner = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
  ScriptedServer server(o);
  ConnectionConfig c = trusting("https://127.0.0.1:" + std::to_string(server.port()), TestPki::shared().ca.certPem);
  auto e = expectTransportError([&] { mv::kube::makeCpprestTransport(c)->send(get("/x")); });
  CHECK(e.kind() == Kind::Tls);
  CHECK(contains(e.what(), "does not speak TLS"));
}

TEST_CASE("TLS: unusable PEM material is a configuration error naming its source") {
  const auto& pki = TestPki::shared();
  ConnectionConfig c = trusting("https://127.0.0.1:6443", "not a certificate");
  CHECK_THROWS_WITH_AS(mv::kube::makeCpprestTransport(c),
                       doctest::Contains("kubeconfig /tmp/test-kubeconfig (context kind-medivote)"),
                       mv::kube::ConfigError);
  c.caPem = pki.ca.certPem;
  c.clientCertPem = pki.client.certPem;
  c.clientKeyPem = TestPki::rsaClient().keyPem;  // the key of another certificate
  CHECK_THROWS_WITH_AS(mv::kube::makeCpprestTransport(c), doctest::Contains("does not match"), mv::kube::ConfigError);
  c.clientKeyPem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  CHECK_THROWS_AS(mv::kube::makeCpprestTransport(c), mv::kube::ConfigError);
}
