#include "kube/config.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include "util/base64.h"

using namespace mv::kube;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/mv-config-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
};

std::string kubeconfig(const std::string& userBody, const std::string& clusterExtra = "",
                       const std::string& current = "ctx") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: " + current +
         "\n"
         "clusters:\n- name: c1\n  cluster:\n    server: https://127.0.0.1:6443/\n" +
         clusterExtra +
         "contexts:\n- name: ctx\n  context:\n    cluster: c1\n    user: u1\n    namespace: votes\n"
         "- name: other\n  context:\n    cluster: c1\n    user: u1\n"
         "users:\n- name: u1\n  user:\n" +
         userBody;
}

std::string messageOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("kubeconfig: current-context, namespace, server, CA and client certificate from -data fields") {
  TempDir dir;
  const std::string ca = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
  const std::string cert = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
  const std::string key = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";
  const auto file = dir.write(
      "config", kubeconfig("    client-certificate-data: " + mv::util::base64Encode(cert) +
                               "\n    client-key-data: " + mv::util::base64Encode(key) + "\n",
                           "    certificate-authority-data: " + mv::util::base64Encode(ca) + "\n"));
  const auto cfg = loadKubeconfig(file);
  CHECK(cfg.server == "https://127.0.0.1:6443");
  CHECK(cfg.namespace_ == "votes");
  CHECK(cfg.caPem == ca);
  CHECK(cfg.clientCertPem == cert);
  CHECK(cfg.clientKeyPem == key);
  CHECK(cfg.token == nullptr);
  CHECK_FALSE(cfg.insecureSkipTlsVerify);
}

TEST_CASE("kubeconfig: --context overrides current-context - files resolve relative to the kubeconfig") {
  TempDir dir;
  dir.write("ca.crt", "CA-PEM");
  dir.write("tok", "  file-token \n");
  const auto file = dir.write("config", kubeconfig("    tokenFile: tok\n", "    certificate-authority: ca.crt\n"));
  const auto cfg = loadKubeconfig(file, std::string("other"));
  CHECK(cfg.namespace_ == "default");
  CHECK(cfg.caPem == "CA-PEM");
  REQUIRE(cfg.token);
  CHECK(cfg.token->current() == "file-token");
}

TEST_CASE("kubeconfig: a static token and insecure-skip-tls-verify") {
  TempDir dir;
  const auto file = dir.write("config", kubeconfig("    token: abc123\n", "    insecure-skip-tls-verify: true\n"));
  const auto cfg = loadKubeconfig(file);
  REQUIRE(cfg.token);
  CHECK(cfg.token->current() == "abc123");
  CHECK(cfg.insecureSkipTlsVerify);
}

TEST_CASE("kubeconfig: exec and auth-provider users are named as unsupported") {
  TempDir dir;
  const auto exec = dir.write("exec", kubeconfig("    exec:\n      command: aws\n      apiVersion: x\n"));
  const auto msg = messageOf([&] { loadKubeconfig(exec); });
  CHECK(msg.find("exec credential plugin") != std::string::npos);
  CHECK(msg.find("not support") != std::string::npos);
  const auto ap = dir.write("ap", kubeconfig("    auth-provider:\n      name: gcp\n"));
  CHECK(messageOf([&] { loadKubeconfig(ap); }).find("auth-provider") != std::string::npos);
}

TEST_CASE("kubeconfig: garbage and broken references give clear errors, never a crash") {
  TempDir dir;
  CHECK(messageOf([&] { loadKubeconfig(dir.path / "missing"); }).find("cannot read kubeconfig") != std::string::npos);
  CHECK(messageOf([&] { loadKubeconfig(dir.write("bin", std::string("\x00\x01\xff{[", 5))); })
            .find("kubeconfig") != std::string::npos);
  CHECK(messageOf([&] { loadKubeconfig(dir.write("list", "- a\n- b\n")); }).find("not a YAML map") !=
        std::string::npos);
  CHECK(messageOf([&] { loadKubeconfig(dir.write("bad", "clusters: [\n")); }).find("not valid YAML") !=
        std::string::npos);
  CHECK(messageOf([&] { loadKubeconfig(dir.write("nocur", kubeconfig("    token: t\n", "", "\"\""))); })
            .find("no current-context") != std::string::npos);
  CHECK(messageOf([&] { loadKubeconfig(dir.write("unk", kubeconfig("    token: t\n", "", "nope"))); })
            .find("no context named 'nope'") != std::string::npos);
  CHECK(messageOf([&] {
          loadKubeconfig(dir.write("b64", kubeconfig("    token: t\n", "    certificate-authority-data: '@@@'\n")));
        }).find("not valid base64") != std::string::npos);
  CHECK(messageOf([&] {
          loadKubeconfig(dir.write("cafile", kubeconfig("    token: t\n", "    certificate-authority: /nonexistent\n")));
        }).find("certificate-authority") != std::string::npos);
  CHECK(messageOf([&] { loadKubeconfig(dir.write("halfcert", kubeconfig("    client-certificate-data: QQ==\n"))); })
            .find("without its key") != std::string::npos);
  CHECK(messageOf([&] { loadKubeconfig(dir.write("clusters", "current-context: x\nclusters: 5\ncontexts: []\n")); })
            .find("kubeconfig") != std::string::npos);
  CHECK(messageOf([&] {
          loadKubeconfig(dir.write("scheme", "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k}\n"
                                             "clusters:\n- name: k\n  cluster: {server: 'ftp://x'}\n"));
        }).find("must start with https://") != std::string::npos);
}

TEST_CASE("the token read from a file never appears in an error message") {
  TempDir dir;
  const auto file = dir.write("config", kubeconfig("    token: sup3r-s3cret\n    exec: {command: x}\n"));
  CHECK(messageOf([&] { loadKubeconfig(file); }).find("sup3r-s3cret") == std::string::npos);
}

TEST_CASE("in-cluster: service host and port, CA, namespace, and a token file read again after rotation") {
  TempDir dir;
  dir.write("ca.crt", "SA-CA");
  dir.write("namespace", "medivote-system\n");
  dir.write("token", "token-1");
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  const auto cfg = loadInCluster(dir.path);
  CHECK(cfg.server == "https://10.96.0.1:443");
  CHECK(cfg.caPem == "SA-CA");
  CHECK(cfg.namespace_ == "medivote-system");
  REQUIRE(cfg.token);
  CHECK(cfg.token->current() == "token-1");
  dir.write("token", "token-2");
  cfg.token->invalidate();
  CHECK(cfg.token->current() == "token-2");
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  CHECK(loadInCluster(dir.path).server == "https://[fd00::1]:443");
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  CHECK(messageOf([&] { loadInCluster(dir.path); }).find("not running in a cluster") != std::string::npos);
}

TEST_CASE("loadConnectionConfig prefers --kubeconfig, then KUBECONFIG") {
  TempDir dir;
  const auto a = dir.write("a", kubeconfig("    token: a\n"));
  const auto b = dir.write("b", kubeconfig("    token: b\n"));
  setenv("KUBECONFIG", (dir.path / "missing").string().append(":").append(b.string()).c_str(), 1);
  CHECK(loadConnectionConfig({a, std::nullopt}).token->current() == "a");
  CHECK(loadConnectionConfig({}).token->current() == "b");
  setenv("KUBECONFIG", (dir.path / "missing").c_str(), 1);
  CHECK(messageOf([&] { loadConnectionConfig({}); }).find("KUBECONFIG") != std::string::npos);
  unsetenv("KUBECONFIG");
}
