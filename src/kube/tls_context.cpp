#include "kube/tls_context.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kube/trust_roots.h"

namespace mv::kube::detail {
namespace {

std::string opensslReason(unsigned long e) {
  const char* reason = ERR_reason_error_string(e);
  if (reason) return reason;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string nameText(const X509_NAME* name) {
  if (!name) return "?";
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out.empty() ? "an empty subject" : out;
}

// "localhost, 127.0.0.1" from the subjectAltName of `cert`; "no DNS or IP subject alternative names" when none.
std::string altNames(X509* cert) {
  std::string out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    std::string item;
    if (n->type == GEN_DNS) {
      item.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                  static_cast<std::size_t>(ASN1_STRING_length(n->d.dNSName)));
    } else if (n->type == GEN_IPADD) {
      char buf[INET6_ADDRSTRLEN] = {0};
      int len = ASN1_STRING_length(n->d.iPAddress);
      const unsigned char* data = ASN1_STRING_get0_data(n->d.iPAddress);
      if (len == 4 || len == 16) inet_ntop(len == 4 ? AF_INET : AF_INET6, data, buf, sizeof buf);
      item = buf;
    }
    if (item.empty()) continue;
    out += (out.empty() ? "" : ", ") + item;
  }
  GENERAL_NAMES_free(names);
  return out.empty() ? "no DNS or IP subject alternative names" : out;
}

std::vector<X509*> parseCerts(const std::string& pem) {
  std::vector<X509*> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.push_back(c);
  BIO_free(bio);
  ERR_clear_error();  // reading ends with a "no start line" error
  return out;
}

bool isUnknownAuthority(int err) {
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_CERT_UNTRUSTED: return true;
    default: return false;
  }
}

// Alerts the server sends when it does not accept our client certificate (or the lack of one).
bool isClientCertificateAlert(int reason) {
  switch (reason) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED: return true;
    default: return false;
  }
}

// The SSL_CTX keeps its TlsPolicy alive: cpprest may run a handshake after the transport that made the policy is
// gone (a pooled connection's context outlives the client), so the verify callback's argument must stay valid.
void freePolicyRef(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::shared_ptr<TlsPolicy>*>(ptr);
}

int policyIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &freePolicyRef);
  return index;
}

int acceptPreverified(int ok, X509_STORE_CTX*) { return ok; }

}  // namespace

std::shared_ptr<TlsPolicy> TlsPolicy::create(const ConnectionConfig& config, const std::string& serverUrl,
                                             const std::string& urlHost) {
  std::shared_ptr<TlsPolicy> p(new TlsPolicy());
  p->source_ = config.source.empty() ? std::string("the connection configuration") : config.source;
  p->serverUrl_ = serverUrl;
  p->verifyName_ = config.tlsServerName.empty() ? urlHost : config.tlsServerName;
  unsigned char addr[16];
  p->verifyNameIsIp_ =
      inet_pton(AF_INET, p->verifyName_.c_str(), addr) == 1 || inet_pton(AF_INET6, p->verifyName_.c_str(), addr) == 1;
  p->insecure_ = config.insecureSkipTlsVerify;

  if (!config.caPem.empty()) {
    p->caCerts_ = parseCerts(config.caPem);
    if (p->caCerts_.empty())
      throw ConfigError("the certificate authority of " + p->source_ + " holds no PEM certificate");
    p->customCa_ = true;
  }
  if (config.clientCertPem.empty() != config.clientKeyPem.empty())
    throw ConfigError(p->source_ + " has a client certificate without its key, or a key without its certificate");
  if (!config.clientCertPem.empty()) {
    p->clientChain_ = parseCerts(config.clientCertPem);
    if (p->clientChain_.empty())
      throw ConfigError("the client certificate of " + p->source_ + " holds no PEM certificate");
    BIO* bio = BIO_new_mem_buf(config.clientKeyPem.data(), static_cast<int>(config.clientKeyPem.size()));
    p->clientKey_ = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ERR_clear_error();
    if (!p->clientKey_)
      throw ConfigError("the client key of " + p->source_ + " is not a PEM private key (RSA, EC or PKCS#8)");
    if (X509_check_private_key(p->clientChain_.front(), p->clientKey_) != 1) {
      ERR_clear_error();
      throw ConfigError("the client key of " + p->source_ + " does not match its client certificate");
    }
    p->clientSubject_ = nameText(X509_get_subject_name(p->clientChain_.front()));
  }
  return p;
}

TlsPolicy::~TlsPolicy() {
  for (X509* c : caCerts_) X509_free(c);
  for (X509* c : clientChain_) X509_free(c);
  EVP_PKEY_free(clientKey_);
}

bool TlsPolicy::isOpensslError(long long code) {
  // Library codes start at bit 23 (ERR_PACK); errno values are small.
  return code >= (1LL << 23) && code <= 0x7fffffffLL;
}

void TlsPolicy::configure(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (customCa_) {
    X509_STORE* store = X509_STORE_new();
    for (X509* c : caCerts_) X509_STORE_add_cert(store, c);
    SSL_CTX_set_cert_store(ctx, store);  // frees the system store cpprest loaded
  } else if (X509_STORE* roots = detachedSystemTrustRoots()) {
    SSL_CTX_set1_cert_store(ctx, roots);  // the system roots, loaded once (trust_roots.h); cpprest's load was empty
  }  // else: the system store cpprest loaded into this context (detachImplicitTrustRoots was not called)
  if (!clientChain_.empty()) {
    SSL_CTX_use_certificate(ctx, clientChain_.front());
    for (std::size_t i = 1; i < clientChain_.size(); ++i) SSL_CTX_add1_chain_cert(ctx, clientChain_[i]);
    SSL_CTX_use_PrivateKey(ctx, clientKey_);
  }
  SSL_CTX_set_ex_data(ctx, policyIndex(), new std::shared_ptr<TlsPolicy>(shared_from_this()));
  SSL_CTX_set_cert_verify_callback(ctx, &TlsPolicy::verifyChain, this);
  SSL_CTX_set_info_callback(ctx, &TlsPolicy::onInfo);
  ERR_clear_error();
}

int TlsPolicy::verifyChain(X509_STORE_CTX* storeCtx, void* arg) {
  auto* self = static_cast<TlsPolicy*>(arg);
  if (self->insecure_) return 1;
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(storeCtx);
  if (self->verifyNameIsIp_) {
    X509_VERIFY_PARAM_set1_ip_asc(param, self->verifyName_.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, self->verifyName_.c_str(), self->verifyName_.size());
  }
  // Replaces cpprest's per-certificate callback (boost's rfc2818 check against the URL host): the name check is
  // OpenSSL's, against verifyName_, which may be tlsServerName.
  X509_STORE_CTX_set_verify_cb(storeCtx, &acceptPreverified);
  int ok = X509_verify_cert(storeCtx);
  if (ok != 1) self->recordFailure(storeCtx);
  return ok == 1 ? 1 : 0;
}

void TlsPolicy::onInfo(const SSL* ssl, int where, int) {
  auto* ref = static_cast<std::shared_ptr<TlsPolicy>*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), policyIndex()));
  if (!ref) return;
  TlsPolicy& self = **ref;
  if (where & SSL_CB_HANDSHAKE_START) {
    // cpprest has put the URL's host in SNI; SNI carries the name we verify, and never an IP address (RFC 6066).
    char* sni = self.verifyNameIsIp_ ? nullptr : const_cast<char*>(self.verifyName_.c_str());
    SSL_set_tlsext_host_name(const_cast<SSL*>(ssl), sni);
  }
  if ((where & SSL_CB_LOOP) && !SSL_is_server(ssl) && SSL_get_state(ssl) == TLS_ST_CR_CERT_REQ) {
    std::lock_guard<std::mutex> lock(self.mu_);
    self.certificateRequested_ = true;
  }
}

void TlsPolicy::recordFailure(X509_STORE_CTX* storeCtx) {
  VerifyFailure f;
  f.error = X509_STORE_CTX_get_error(storeCtx);
  X509* leaf = X509_STORE_CTX_get0_cert(storeCtx);
  if (leaf) {
    f.detail = "it presented " + nameText(X509_get_subject_name(leaf)) + " issued by " +
               nameText(X509_get_issuer_name(leaf)) + ", valid for " + altNames(leaf);
  }
  std::lock_guard<std::mutex> lock(mu_);
  lastFailure_ = std::move(f);
}

std::optional<TransportError> TlsPolicy::explainEarlyClose() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!certificateRequested_) return std::nullopt;
  }
  if (clientChain_.empty())
    return TransportError(TransportError::Kind::TlsClientRejected,
                          "TLS: " + serverUrl_ +
                              " asked for a client certificate and closed the connection without "
                              "a reply; it most likely requires a client certificate, and " +
                              source_ + " has none");
  return TransportError(TransportError::Kind::TlsClientRejected,
                        "TLS: " + serverUrl_ +
                            " closed the connection right after the TLS handshake, without a "
                            "reply; it most likely rejected the client certificate " +
                            clientSubject_ + " (" + source_ + ")");
}

TransportError TlsPolicy::classify(unsigned long e, const std::string& what) const {
  using Kind = TransportError::Kind;
  const int reason = ERR_GET_REASON(e);
  const bool sslLib = ERR_GET_LIB(e) == ERR_LIB_SSL;
  std::optional<VerifyFailure> failure;
  bool requested;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failure = lastFailure_;
    requested = certificateRequested_;
  }
  const std::string at = " (" + source_ + ")";

  if (sslLib && reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    if (!failure)
      return TransportError(Kind::Tls,
                            "TLS: the certificate of " + serverUrl_ + " failed verification during " + what + at);
    const std::string detail = failure->detail.empty() ? "" : "; " + failure->detail;
    if (failure->error == X509_V_ERR_HOSTNAME_MISMATCH || failure->error == X509_V_ERR_IP_ADDRESS_MISMATCH)
      return TransportError(Kind::TlsNameMismatch, "TLS: the server certificate does not name " + verifyName_ +
                                                       ", the " + (verifyNameIsIp_ ? "address" : "name") + " that " +
                                                       serverUrl_ + " was dialled as" + detail + at);
    if (isUnknownAuthority(failure->error)) {
      if (customCa_)
        return TransportError(Kind::TlsUnknownAuthority,
                              "TLS: the server certificate of " + serverUrl_ +
                                  " is not signed by the configured certificate authority (certificate-authority of " +
                                  source_ + ")" + detail);
      return TransportError(Kind::TlsUnknownAuthority,
                            "TLS: the server certificate of " + serverUrl_ +
                                " is not signed by any certificate authority of the system trust store (" + source_ +
                                " configures no certificate-authority)" + detail);
    }
    return TransportError(Kind::Tls, "TLS: the server certificate of " + serverUrl_ + " is not acceptable: " +
                                         X509_verify_cert_error_string(failure->error) + detail + at);
  }

  if (sslLib && (isClientCertificateAlert(reason) || (reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE && requested))) {
    if (clientChain_.empty())
      return TransportError(Kind::TlsClientRejected, "TLS: " + serverUrl_ + " requires a client certificate, and " +
                                                         source_ + " has none (server alert: " + opensslReason(e) +
                                                         ")");
    return TransportError(Kind::TlsClientRejected, "TLS: " + serverUrl_ + " rejected the client certificate " +
                                                       clientSubject_ + " (server alert: " + opensslReason(e) + ")" +
                                                       at);
  }
  if (sslLib && (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG))
    return TransportError(Kind::Tls, "TLS: " + serverUrl_ +
                                         " does not speak TLS (is it a plain http:// server, or "
                                         "another protocol?): " +
                                         opensslReason(e) + at);
  return TransportError(Kind::Tls, "TLS: " + what + " with " + serverUrl_ + " failed: " + opensslReason(e) + at);
}

}  // namespace mv::kube::detail
