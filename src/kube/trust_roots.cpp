#include "kube/trust_roots.h"

#include <openssl/err.h>

#include <cstdlib>
#include <mutex>
#include <optional>

namespace mv::kube {
namespace {

// A path that cannot exist: OpenSSL then finds no default file and no default directory (and clears that error).
constexpr const char* kNowhere = "/nonexistent/medivote-operator/trust-roots-are-loaded-once";

struct Detached {
  detail::TrustRootLocations where;
  std::optional<std::string> fileEnv, dirEnv;  // the variables as they were, for the test-only reattach
  X509_STORE* store = nullptr;
  std::once_flag loaded;
};

std::mutex& stateMutex() {
  static std::mutex m;
  return m;
}

Detached*& detachedState() {
  static Detached* state = nullptr;  // never freed while the process runs: connections may hold the store
  return state;
}


std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::optional<std::string>(v) : std::nullopt;
}

}  // namespace

void detachImplicitTrustRoots() {
  std::lock_guard<std::mutex> lock(stateMutex());
  if (detachedState()) return;
  auto* d = new Detached();
  d->where = detail::defaultTrustRootLocations();
  d->fileEnv = env(X509_get_default_cert_file_env());
  d->dirEnv = env(X509_get_default_cert_dir_env());
  ::setenv(X509_get_default_cert_file_env(), kNowhere, 1);
  ::setenv(X509_get_default_cert_dir_env(), kNowhere, 1);
  detachedState() = d;
}

namespace detail {

TrustRootLocations defaultTrustRootLocations() {
  // As X509_LOOKUP_file's and X509_LOOKUP_hash_dir's X509_FILETYPE_DEFAULT loads read them.
  TrustRootLocations where;
  where.file = env(X509_get_default_cert_file_env()).value_or(X509_get_default_cert_file());
  where.dir = env(X509_get_default_cert_dir_env()).value_or(X509_get_default_cert_dir());
  return where;
}

X509_STORE* loadTrustRoots(const TrustRootLocations& where) {
  X509_STORE* store = X509_STORE_new();
  if (!where.file.empty()) X509_STORE_load_file(store, where.file.c_str());  // a missing file: no roots from it
  if (!where.dir.empty()) {
    // Looked up lazily by subject hash, per verification (X509_LOOKUP_hash_dir), as with the default paths.
    X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
    if (lookup) X509_LOOKUP_add_dir(lookup, where.dir.c_str(), X509_FILETYPE_PEM);
  }
  ERR_clear_error();
  return store;
}

X509_STORE* detachedSystemTrustRoots() {
  Detached* d = nullptr;
  {
    std::lock_guard<std::mutex> lock(stateMutex());
    d = detachedState();
  }
  if (!d) return nullptr;
  std::call_once(d->loaded, [d] { d->store = loadTrustRoots(d->where); });
  return d->store;
}

void reattachImplicitTrustRootsForTesting() {
  std::lock_guard<std::mutex> lock(stateMutex());
  Detached* d = detachedState();
  if (!d) return;
  auto restore = [](const char* name, const std::optional<std::string>& v) {
    if (v)
      ::setenv(name, v->c_str(), 1);
    else
      ::unsetenv(name);
  };
  restore(X509_get_default_cert_file_env(), d->fileEnv);
  restore(X509_get_default_cert_dir_env(), d->dirEnv);
  detachedState() = nullptr;
  // Connections that use the store hold references of their own (SSL_CTX_set1_cert_store): this drops the state's.
  if (d->store) X509_STORE_free(d->store);
  delete d;
}

}  // namespace detail
}  // namespace mv::kube
