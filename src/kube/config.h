#pragma once
// Where the API server is and how to prove who we are: from a kubeconfig file or from the in-cluster service
// account. Loading validates everything up front and throws ConfigError with a sentence naming the file, context
// and field at fault; it never crashes on malformed input.

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "kube/errors.h"

namespace mv::kube {

// A bearer token that may rotate: a projected service-account token file is read again when it changes (checked at
// most once per `recheck`). A static token never changes. current() is thread-safe and never logs the token.
class BearerToken {
 public:
  static std::shared_ptr<BearerToken> fixed(std::string token);
  static std::shared_ptr<BearerToken> fromFile(std::filesystem::path file,
                                               std::chrono::seconds recheck = std::chrono::seconds(60));
  // The token to send now. Throws ConfigError when a token file cannot be read (and no earlier token was read).
  std::string current();
  // Forces the next current() to read the file again (after a 401, for instance).
  void invalidate();

 private:
  BearerToken() = default;
  std::mutex mu_;
  std::string token_;
  std::optional<std::filesystem::path> file_;
  std::chrono::seconds recheck_{60};
  std::chrono::steady_clock::time_point lastRead_{};
  std::filesystem::file_time_type lastMtime_{};
  bool loaded_ = false;
};

struct ConnectionConfig {
  std::string server;  // https://host:port or http://host:port, without a trailing slash
  // PEM text of the CA bundle to trust (from certificate-authority or -data, or the service-account ca.crt). Empty
  // means: for https, trust the system store.
  std::string caPem;
  bool insecureSkipTlsVerify = false;
  std::string tlsServerName;   // overrides the name checked against the certificate
  std::string clientCertPem;   // PEM text of the client certificate chain, or empty
  std::string clientKeyPem;    // PEM text of its private key, or empty
  std::shared_ptr<BearerToken> token;  // null when there is none
  std::string namespace_ = "default";  // the context's namespace, or the service account's
  std::string source;                  // a description for messages: "kubeconfig /x (context y)", "in-cluster"
};

struct LoadOptions {
  std::optional<std::filesystem::path> kubeconfig;  // --kubeconfig
  std::optional<std::string> context;               // --context
};

// Loads a kubeconfig file. Relative file references are resolved against the file's directory, as kubectl does.
// Throws ConfigError: unreadable or malformed YAML, no current-context, an unknown context/cluster/user, an exec or
// auth-provider user (named as unsupported), unreadable certificate files.
ConnectionConfig loadKubeconfig(const std::filesystem::path& file, const std::optional<std::string>& context = {});

// The in-cluster configuration: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT and the service-account files under
// `saDir` (token, ca.crt, namespace). The token is re-read when it rotates. Throws ConfigError when not in a cluster.
ConnectionConfig loadInCluster(const std::filesystem::path& saDir = "/var/run/secrets/kubernetes.io/serviceaccount");

// The order controller-runtime uses: --kubeconfig; else $KUBECONFIG (first existing file of the list); else
// in-cluster when KUBERNETES_SERVICE_HOST is set; else ~/.kube/config. Throws ConfigError naming what was tried.
ConnectionConfig loadConnectionConfig(const LoadOptions& options);

}  // namespace mv::kube
