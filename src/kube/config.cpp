#include "kube/config.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "util/base64.h"

namespace mv::kube {
namespace fs = std::filesystem;

namespace {

std::string readFile(const fs::path& p, const std::string& what) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("cannot read {} '{}'", what, p.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Both ends, as kubectl trims token files.
std::string trimmed(std::string s) {
  auto space = [](char c) { return c == '\n' || c == '\r' || c == ' ' || c == '\t'; };
  while (!s.empty() && space(s.back())) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && space(s[start])) ++start;
  return s.substr(start);
}

// Finds the entry named `name` in a kubeconfig list (clusters, users, contexts) and returns its `field` map.
YAML::Node findNamed(const YAML::Node& root, const char* list, const std::string& name, const char* field,
                     const std::string& where) {
  const YAML::Node items = root[list];
  if (items && !items.IsSequence()) throw ConfigError(fmt::format("{}: '{}' is not a list", where, list));
  if (items) {
    for (const auto& item : items) {
      if (!item.IsMap()) throw ConfigError(fmt::format("{}: an entry of '{}' is not a map", where, list));
      if (item["name"] && item["name"].IsScalar() && item["name"].as<std::string>() == name) {
        const YAML::Node body = item[field];
        if (!body || body.IsNull()) return YAML::Node(YAML::NodeType::Map);
        if (!body.IsMap()) throw ConfigError(fmt::format("{}: {} '{}' has no '{}' map", where, list, name, field));
        return body;
      }
    }
  }
  throw ConfigError(fmt::format("{}: no {} named '{}'", where, std::string(list).substr(0, std::strlen(list) - 1), name));
}

std::string scalar(const YAML::Node& map, const char* key, const std::string& where) {
  const YAML::Node v = map[key];
  if (!v || v.IsNull()) return {};
  if (!v.IsScalar()) throw ConfigError(fmt::format("{}: '{}' must be a string", where, key));
  return v.as<std::string>();
}

// A PEM from either `<key>-data` (base64) or `<key>` (a file path, relative to the kubeconfig's directory).
std::string pemFrom(const YAML::Node& map, const std::string& key, const fs::path& baseDir, const std::string& where) {
  const std::string data = scalar(map, (key + "-data").c_str(), where);
  if (!data.empty()) {
    auto decoded = util::base64Decode(data);
    if (!decoded) throw ConfigError(fmt::format("{}: '{}-data' is not valid base64", where, key));
    return *decoded;
  }
  const std::string file = scalar(map, key.c_str(), where);
  if (file.empty()) return {};
  fs::path p(file);
  if (p.is_relative()) p = baseDir / p;
  return readFile(p, fmt::format("{} ({})", key, where));
}

bool truthy(const YAML::Node& map, const char* key, const std::string& where) {
  const YAML::Node v = map[key];
  if (!v || v.IsNull()) return false;
  try {
    return v.as<bool>();
  } catch (const YAML::Exception&) {
    throw ConfigError(fmt::format("{}: '{}' must be true or false", where, key));
  }
}

std::string stripTrailingSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

// --- BearerToken ---------------------------------------------------------------------------------------------------

std::shared_ptr<BearerToken> BearerToken::fixed(std::string token) {
  std::shared_ptr<BearerToken> t(new BearerToken());
  t->token_ = std::move(token);
  t->loaded_ = true;
  return t;
}

std::shared_ptr<BearerToken> BearerToken::fromFile(fs::path file, std::chrono::seconds recheck) {
  std::shared_ptr<BearerToken> t(new BearerToken());
  t->file_ = std::move(file);
  t->recheck_ = recheck;
  return t;
}

std::string BearerToken::current() {
  std::lock_guard<std::mutex> g(mu_);
  if (!file_) return token_;
  const auto now = std::chrono::steady_clock::now();
  if (loaded_ && now - lastRead_ < recheck_) return token_;
  std::error_code ec;
  const auto mtime = fs::last_write_time(*file_, ec);
  if (loaded_ && !ec && mtime == lastMtime_) {
    lastRead_ = now;
    return token_;
  }
  try {
    token_ = trimmed(readFile(*file_, "token file"));
    lastMtime_ = ec ? fs::file_time_type{} : mtime;
    lastRead_ = now;
    loaded_ = true;
  } catch (const ConfigError&) {
    if (!loaded_) throw;  // keep serving the last good token while a rotation is in flight
  }
  return token_;
}

void BearerToken::invalidate() {
  std::lock_guard<std::mutex> g(mu_);
  lastRead_ = {};
  lastMtime_ = {};
}

// --- kubeconfig ----------------------------------------------------------------------------------------------------

ConnectionConfig loadKubeconfig(const fs::path& file, const std::optional<std::string>& context) {
  const std::string text = readFile(file, "kubeconfig");
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("kubeconfig '{}' is not valid YAML: {}", file.string(), e.what()));
  }
  if (!root.IsMap()) throw ConfigError(fmt::format("kubeconfig '{}' is not a YAML map", file.string()));
  const fs::path baseDir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  const std::string where0 = fmt::format("kubeconfig '{}'", file.string());

  try {
    std::string contextName = context.value_or(scalar(root, "current-context", where0));
    if (contextName.empty())
      throw ConfigError(fmt::format("{}: no current-context is set and no --context was given", where0));
    const std::string where = fmt::format("{} (context '{}')", where0, contextName);
    const YAML::Node ctx = findNamed(root, "contexts", contextName, "context", where);
    const std::string clusterName = scalar(ctx, "cluster", where);
    const std::string userName = scalar(ctx, "user", where);
    if (clusterName.empty()) throw ConfigError(fmt::format("{}: the context names no cluster", where));

    ConnectionConfig cfg;
    cfg.source = where;
    const std::string ns = scalar(ctx, "namespace", where);
    if (!ns.empty()) cfg.namespace_ = ns;

    const YAML::Node cluster = findNamed(root, "clusters", clusterName, "cluster", where);
    cfg.server = stripTrailingSlash(scalar(cluster, "server", where));
    if (cfg.server.empty()) throw ConfigError(fmt::format("{}: cluster '{}' has no server", where, clusterName));
    if (cfg.server.rfind("https://", 0) != 0 && cfg.server.rfind("http://", 0) != 0)
      throw ConfigError(fmt::format("{}: server '{}' must start with https:// or http://", where, cfg.server));
    cfg.caPem = pemFrom(cluster, "certificate-authority", baseDir, where);
    cfg.insecureSkipTlsVerify = truthy(cluster, "insecure-skip-tls-verify", where);
    cfg.tlsServerName = scalar(cluster, "tls-server-name", where);
    if (cfg.insecureSkipTlsVerify && !cfg.caPem.empty())
      throw ConfigError(fmt::format("{}: cluster '{}' sets both a certificate authority and insecure-skip-tls-verify",
                                    where, clusterName));

    if (!userName.empty()) {
      const YAML::Node user = findNamed(root, "users", userName, "user", where);
      if (user["exec"] && !user["exec"].IsNull())
        throw ConfigError(fmt::format(
            "{}: user '{}' uses an exec credential plugin, which medivote-controller does not support; use a token, "
            "tokenFile or client certificate",
            where, userName));
      if (user["auth-provider"] && !user["auth-provider"].IsNull())
        throw ConfigError(fmt::format(
            "{}: user '{}' uses an auth-provider, which medivote-controller does not support; use a token, "
            "tokenFile or client certificate",
            where, userName));
      if (!scalar(user, "username", where).empty() || !scalar(user, "password", where).empty())
        throw ConfigError(fmt::format("{}: user '{}' uses basic authentication, which Kubernetes removed; use a "
                                      "token or client certificate",
                                      where, userName));
      cfg.clientCertPem = pemFrom(user, "client-certificate", baseDir, where);
      cfg.clientKeyPem = pemFrom(user, "client-key", baseDir, where);
      if (cfg.clientCertPem.empty() != cfg.clientKeyPem.empty())
        throw ConfigError(fmt::format("{}: user '{}' has a client certificate without its key, or a key without its "
                                      "certificate",
                                      where, userName));
      const std::string token = scalar(user, "token", where);
      const std::string tokenFile = scalar(user, "tokenFile", where);
      if (!token.empty()) {
        cfg.token = BearerToken::fixed(token);
      } else if (!tokenFile.empty()) {
        fs::path p(tokenFile);
        if (p.is_relative()) p = baseDir / p;
        cfg.token = BearerToken::fromFile(p);
        cfg.token->current();  // fail now, with the file named, rather than on the first request
      }
    }
    return cfg;
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: malformed: {}", where0, e.what()));
  }
}

ConnectionConfig loadInCluster(const fs::path& saDir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    throw ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  ConnectionConfig cfg;
  const std::string h(host);
  // An IPv6 service address needs brackets in a URL.
  cfg.server = fmt::format("https://{}:{}", h.find(':') != std::string::npos ? "[" + h + "]" : h, port);
  cfg.source = "in-cluster service account";
  cfg.caPem = readFile(saDir / "ca.crt", "service-account CA");
  cfg.token = BearerToken::fromFile(saDir / "token");
  cfg.token->current();
  std::error_code ec;
  if (fs::exists(saDir / "namespace", ec)) {
    const std::string ns = trimmed(readFile(saDir / "namespace", "service-account namespace"));
    if (!ns.empty()) cfg.namespace_ = ns;
  }
  return cfg;
}

ConnectionConfig loadConnectionConfig(const LoadOptions& options) {
  if (options.kubeconfig) return loadKubeconfig(*options.kubeconfig, options.context);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::stringstream list(env);
    std::string item;
    while (std::getline(list, item, ':')) {
      std::error_code ec;
      if (!item.empty() && fs::exists(item, ec)) return loadKubeconfig(item, options.context);
    }
    throw ConfigError(fmt::format("KUBECONFIG is set to '{}' but names no existing file", env));
  }
  if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST"); host && *host) return loadInCluster();
  if (const char* home = std::getenv("HOME"); home && *home) {
    const fs::path p = fs::path(home) / ".kube" / "config";
    std::error_code ec;
    if (fs::exists(p, ec)) return loadKubeconfig(p, options.context);
  }
  throw ConfigError(
      "no cluster configuration: pass --kubeconfig, set KUBECONFIG, run in a cluster, or create ~/.kube/config");
}

}  // namespace mv::kube
