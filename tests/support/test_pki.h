#pragma once
// A test PKI generated in memory at test time (OpenSSL C API): certificate authorities, server and client
// certificates, all as PEM strings, as a kubeconfig's *-data fields carry them once base64-decoded.
//
// Contract:
// - TestPki::shared() generates the standard set once per process (thread-safe) and returns it for every test.
// - Certificates are valid from one hour ago for two days, use SHA-256, and carry the extensions a real cluster's
//   certificates carry (basicConstraints, keyUsage, extendedKeyUsage, subjectAltName, key identifiers).
// - issue() makes further certificates for tests that need other names or keys.

#include <string>
#include <vector>

namespace mv::testing {

enum class KeyType { EcP256, Rsa2048 };
// The PEM flavour of a private key: PKCS#8 ("BEGIN PRIVATE KEY") or the traditional per-algorithm form
// ("BEGIN RSA PRIVATE KEY" / "BEGIN EC PRIVATE KEY"), which kubeadm and kind kubeconfigs carry.
enum class KeyFormat { Pkcs8, Traditional };

struct CertAndKey {
  std::string certPem;
  std::string keyPem;
};

struct CertSpec {
  std::string commonName;
  std::vector<std::string> organizations;  // O= entries (Kubernetes groups for client certificates)
  std::vector<std::string> dnsNames;       // subjectAltName DNS entries
  std::vector<std::string> ipAddresses;    // subjectAltName IP entries (IPv4 or IPv6 text)
  bool serverAuth = true;                  // extendedKeyUsage serverAuth, else clientAuth
  KeyType keyType = KeyType::EcP256;
  KeyFormat keyFormat = KeyFormat::Pkcs8;
};

// Creates a self-signed CA certificate named `commonName`.
CertAndKey makeCa(const std::string& commonName, KeyType keyType = KeyType::EcP256);

// Issues a certificate for `spec`, signed by `ca` (as returned by makeCa).
CertAndKey issue(const CertAndKey& ca, const CertSpec& spec);

struct TestPki {
  CertAndKey ca;               // CN=medivote-test-ca
  CertAndKey server;           // CN=kube-apiserver, SAN DNS:localhost, IP:127.0.0.1, signed by `ca`
  CertAndKey wrongNameServer;  // CN=wrong-name, SAN DNS:wrong.example.com, IP:10.255.0.1, signed by `ca`
  CertAndKey otherCa;          // CN=unrelated-ca: a second, unrelated CA
  CertAndKey otherServer;      // same names as `server`, signed by `otherCa`
  CertAndKey client;           // CN=admin, O=system:masters, clientAuth, EC key (PKCS#8), signed by `ca`
  CertAndKey otherClient;      // CN=intruder, clientAuth, signed by `otherCa`

  static const TestPki& shared();
  // CN=admin-rsa, O=system:masters, clientAuth, RSA key (traditional PEM), signed by shared().ca. Generated on first
  // use only: RSA key generation is slow.
  static const CertAndKey& rsaClient();
};

}  // namespace mv::testing
