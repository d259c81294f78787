#include "support/test_pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

namespace mv::testing {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

[[noreturn]] void fail(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = {0};
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  throw std::runtime_error("test PKI: " + what + (e ? std::string(": ") + buf : std::string()));
}

KeyPtr generateKey(KeyType type) {
  EVP_PKEY* key = type == KeyType::Rsa2048 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (!key) fail("key generation failed");
  return KeyPtr(key);
}

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string certPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) fail("writing certificate PEM");
  return bioText(bio.get());
}

std::string keyPem(EVP_PKEY* key, KeyFormat format) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  int ok = format == KeyFormat::Traditional
               ? PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
               : PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  if (!ok) fail("writing key PEM");
  return bioText(bio.get());
}

CertPtr readCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (!cert) fail("reading certificate PEM");
  return CertPtr(cert);
}

KeyPtr readKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!key) fail("reading key PEM");
  return KeyPtr(key);
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext) fail("building extension " + std::string(OBJ_nid2sn(nid)) + "=" + value);
  if (!X509_add_ext(cert, ext.get(), -1)) fail("adding extension");
}

// Fills in everything but the extensions and the signature.
CertPtr newCert(EVP_PKEY* key, const std::string& cn, const std::vector<std::string>& orgs) {
  CertPtr cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) fail("RAND_bytes");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 2L * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& o : orgs)
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  if (!X509_set_pubkey(cert.get(), key)) fail("X509_set_pubkey");
  return cert;
}

void sign(X509* cert, EVP_PKEY* issuerKey) {
  if (X509_sign(cert, issuerKey, EVP_sha256()) <= 0) fail("X509_sign");
}

}  // namespace

CertAndKey makeCa(const std::string& commonName, KeyType keyType) {
  KeyPtr key = generateKey(keyType);
  CertPtr cert = newCert(key.get(), commonName, {});
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  addExtension(cert.get(), cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign");
  addExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  sign(cert.get(), key.get());
  return {certPem(cert.get()), keyPem(key.get(), KeyFormat::Pkcs8)};
}

CertAndKey issue(const CertAndKey& ca, const CertSpec& spec) {
  CertPtr caCert = readCert(ca.certPem);
  KeyPtr caKey = readKey(ca.keyPem);
  KeyPtr key = generateKey(spec.keyType);
  CertPtr cert = newCert(key.get(), spec.commonName, spec.organizations);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(caCert.get()));
  addExtension(cert.get(), caCert.get(), NID_basic_constraints, "critical,CA:FALSE");
  addExtension(
      cert.get(), caCert.get(), NID_key_usage,
      spec.keyType == KeyType::Rsa2048 ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
  addExtension(cert.get(), caCert.get(), NID_ext_key_usage, spec.serverAuth ? "serverAuth" : "clientAuth");
  addExtension(cert.get(), caCert.get(), NID_subject_key_identifier, "hash");
  addExtension(cert.get(), caCert.get(), NID_authority_key_identifier, "keyid:always");
  std::string san;
  for (const auto& d : spec.dnsNames) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
  for (const auto& ip : spec.ipAddresses) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  if (!san.empty()) addExtension(cert.get(), caCert.get(), NID_subject_alt_name, san);
  sign(cert.get(), caKey.get());
  return {certPem(cert.get()), keyPem(key.get(), spec.keyFormat)};
}

const TestPki& TestPki::shared() {
  static const TestPki pki = [] {
    TestPki p;
    p.ca = makeCa("medivote-test-ca");
    p.otherCa = makeCa("unrelated-ca");
    CertSpec server;
    server.commonName = "kube-apiserver";
    server.dnsNames = {"localhost"};
    server.ipAddresses = {"127.0.0.1"};
    p.server = issue(p.ca, server);
    p.otherServer = issue(p.otherCa, server);
    CertSpec wrong;
    wrong.commonName = "wrong-name";
    wrong.dnsNames = {"wrong.example.com"};
    wrong.ipAddresses = {"10.255.0.1"};
    p.wrongNameServer = issue(p.ca, wrong);
    CertSpec client;
    client.commonName = "admin";
    client.organizations = {"system:masters"};
    client.serverAuth = false;
    p.client = issue(p.ca, client);
    CertSpec intruder;
    intruder.commonName = "intruder";
    intruder.serverAuth = false;
    p.otherClient = issue(p.otherCa, intruder);
    return p;
  }();
  return pki;
}

const CertAndKey& TestPki::rsaClient() {
  static const CertAndKey cert = [] {
    CertSpec spec;
    spec.commonName = "admin-rsa";
    spec.organizations = {"system:masters"};
    spec.serverAuth = false;
    spec.keyType = KeyType::Rsa2048;
    spec.keyFormat = KeyFormat::Traditional;
    return issue(shared().ca, spec);
  }();
  return cert;
}

}  // namespace mv::testing
