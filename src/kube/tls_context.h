#pragma once
// TLS of the cpprest transport (private to src/kube): how each new connection's SSL_CTX is set up, and how OpenSSL
// failures become TransportErrors that say what went wrong.
//
// Contract:
// - create() parses the PEM material once (CA bundle, client certificate chain and key, RSA or EC, PKCS#8 or
//   traditional) and throws ConfigError naming the configuration's source when it cannot be used.
// - configure() is called for every new connection's SSL_CTX (cpprest builds one per connection, with the system
//   trust store already loaded, or an empty one after detachImplicitTrustRoots: trust_roots.h). With a CA bundle
//   configured, the store is replaced so that only that bundle is trusted, as kubectl does; without, after
//   detachImplicitTrustRoots, by the process's one store of system roots. The chain check and the server name check are done by OpenSSL itself against
//   `verifyName` (tlsServerName when set, else the server URL's host); an IP address is matched against IP SANs only,
//   a name against DNS SANs only. The ClientHello's SNI carries `verifyName` when it is a name.
// - The outcome of the last failed verification, and whether the server asked for a client certificate, are kept so
//   that classify() can tell an unknown CA from a name mismatch from a rejected client: cpprest only reports
//   "certificate verify failed". All connections of one transport go to the same server with the same settings, so
//   the last failure is the one that the failing request met.

#include <openssl/ssl.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kube/config.h"
#include "kube/errors.h"

namespace mv::kube::detail {

class TlsPolicy : public std::enable_shared_from_this<TlsPolicy> {
 public:
  // `serverUrl` and `urlHost` come from config.server (the host without IPv6 brackets).
  static std::shared_ptr<TlsPolicy> create(const ConnectionConfig& config, const std::string& serverUrl,
                                           const std::string& urlHost);
  ~TlsPolicy();
  TlsPolicy(const TlsPolicy&) = delete;
  TlsPolicy& operator=(const TlsPolicy&) = delete;

  // Sets up a fresh SSL_CTX for one connection. Never throws; leaves the thread's OpenSSL error queue empty.
  void configure(SSL_CTX* ctx);

  // The TransportError for an OpenSSL error code (ERR_PACK form, as boost.asio reports it) that ended a request.
  // `what` says what failed ("the TLS handshake", "reading the response").
  TransportError classify(unsigned long opensslError, const std::string& what) const;

  // For a TLS connection that the server closed (reset, or EOF) after the handshake and before any reply: when the
  // server had asked for a client certificate, the likely cause is that it rejected ours (or our lack of one). With
  // TLS 1.3 the server's alert often never reaches us: it closes with our request unread, so the kernel resets the
  // connection and drops the alert. Returns nothing when the server never asked for a certificate.
  std::optional<TransportError> explainEarlyClose() const;

  // True when `code` (an error value that cpprest reported) is an OpenSSL error code rather than an errno.
  static bool isOpensslError(long long code);

  bool insecure() const { return insecure_; }
  const std::string& verifyName() const { return verifyName_; }

 private:
  TlsPolicy() = default;

  struct VerifyFailure {
    int error = 0;       // X509_V_ERR_*
    std::string detail;  // a sentence about the certificate (subject, issuer, names)
  };

  static int verifyChain(X509_STORE_CTX* storeCtx, void* arg);
  static void onInfo(const SSL* ssl, int where, int ret);
  void recordFailure(X509_STORE_CTX* storeCtx);

  std::string source_;
  std::string serverUrl_;
  std::string verifyName_;
  bool verifyNameIsIp_ = false;
  bool sniOverride_ = false;  // tlsServerName set: SNI must carry it instead of the URL's host
  bool insecure_ = false;
  bool customCa_ = false;
  std::vector<X509*> caCerts_;
  std::vector<X509*> clientChain_;  // leaf first
  EVP_PKEY* clientKey_ = nullptr;
  std::string clientSubject_;

  mutable std::mutex mu_;
  std::optional<VerifyFailure> lastFailure_;
  bool certificateRequested_ = false;
};

}  // namespace mv::kube::detail
