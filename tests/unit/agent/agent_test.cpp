// The real medivote-agent binary (MEDIVOTE_AGENT_BINARY), started per test on 127.0.0.1 port 0, in front of a fake
// service on loopback: authentication, forwarding (and from which address), the answers it relays, 502, the
// "done" state once the service's port closes, token file reloads, and a prompt exit 0 on SIGTERM; the kubelet's
// preStop hook (GET /prestop): each of its four releases, requests served while it is held, POST /shutdown waiting
// for it, and the hook's client seeing the connection break when the agent dies. Waits are tiny (100-500 ms) and
// checked as orderings and bounds, never as exact durations.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "net/http_client.h"
#include "net/http_server.h"

extern char** environ;

using namespace mv::net;
using namespace std::chrono_literals;

namespace {

// A temporary token file, removed at the end.
class TokenFile {
 public:
  explicit TokenFile(const std::string& content) {
    char dir[] = "/tmp/agent-test-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    dir_ = dir;
    path_ = dir_ + "/token";
    write(content);
  }
  ~TokenFile() {
    std::remove(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  // Replaces the file atomically, as a Secret volume update does.
  void write(const std::string& content) {
    std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << content;
    REQUIRE(std::rename(tmp.c_str(), path_.c_str()) == 0);
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

// A fake service on loopback, served by its own thread until stop() or destruction. It records every request with
// its TCP peer and answers with the configured response.
class FakeService {
 public:
  explicit FakeService(ServerResponse response, const char* ip = "127.0.0.1", int port = 0)
      : response_(std::move(response)) {
    server_.emplace(*parseIpLiteral(ip, static_cast<std::uint16_t>(port)),
                    [this](const ServerRequest& r) { return handle(r); });
    port_ = server_->localAddress().port();
    REQUIRE(::pipe(wake_) == 0);
    thread_ = std::thread([this] {
      while (!server_->serveOnce(1s, wake_[0])) {
      }
    });
  }
  ~FakeService() {
    stop();
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  // Stops serving and closes the listening socket: the port is closed afterwards.
  void stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    (void)!::write(wake_[1], "x", 1);
    thread_.join();
    server_.reset();
  }
  int port() const { return port_; }
  std::vector<ServerRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // When each request arrived.
  std::vector<std::chrono::steady_clock::time_point> arrivals() const {
    std::lock_guard lock(mu_);
    return arrivals_;
  }
  std::atomic<int> delayMs{0};

 private:
  ServerResponse handle(const ServerRequest& r) {
    {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
      arrivals_.push_back(std::chrono::steady_clock::now());
    }
    // A slow service, that stop() interrupts.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(delayMs.load());
    while (!stopping_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
    return response_;
  }

  ServerResponse response_;
  std::optional<HttpServer> server_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<ServerRequest> requests_;
  std::vector<std::chrono::steady_clock::time_point> arrivals_;
};

// A port that accepts TCP connections (the kernel completes the handshake) but never answers: a hung service, like
// the backend's reload parent that keeps the port of the worker that died.
class HungPort {
 public:
  HungPort() {
    auto any = *parseIpLiteral("127.0.0.1", 0);
    fd_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(::bind(fd_.get(), any.get(), any.length()) == 0);
    REQUIRE(::listen(fd_.get(), 64) == 0);
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    REQUIRE(::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&bound), &len) == 0);
    port_ = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&bound), len).port();
  }
  int port() const { return port_; }

 private:
  Fd fd_;
  int port_ = 0;
};

// The agent process. Its stderr is collected by a thread; the destructor kills it (SIGKILL) if it still runs.
class Agent {
 public:
  explicit Agent(std::vector<std::string> args, std::vector<std::string> extraEnv = {}) {
    int pipeFds[2];
    REQUIRE(::pipe2(pipeFds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 2);
    // Not the test's stdout: an agent orphaned by a crashed test must not keep the test runner's pipe open.
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> argvStrings = {MEDIVOTE_AGENT_BINARY};
    argvStrings.insert(argvStrings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argvStrings) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> envStrings;
    for (char** e = environ; *e; ++e)
      if (!std::string_view(*e).starts_with("POD_IP=")) envStrings.emplace_back(*e);
    envStrings.insert(envStrings.end(), extraEnv.begin(), extraEnv.end());
    std::vector<char*> envp;
    for (auto& e : envStrings) envp.push_back(e.data());
    envp.push_back(nullptr);
    int rc = posix_spawn(&pid_, MEDIVOTE_AGENT_BINARY, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipeFds[1]);
    REQUIRE(rc == 0);
    readFd_ = pipeFds[0];
    reader_ = std::thread([this] {
      char buf[1024];
      ssize_t n;
      while ((n = ::read(readFd_, buf, sizeof(buf))) > 0) {
        std::lock_guard lock(mu_);
        log_.append(buf, static_cast<std::size_t>(n));
      }
    });
  }
  ~Agent() {
    if (!exitStatus_) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
    reader_.join();
    ::close(readFd_);
  }

  std::string log() const {
    std::lock_guard lock(mu_);
    return log_;
  }
  // Polls the log for `text` until the deadline.
  bool waitForLog(const std::string& text, std::chrono::milliseconds within = 3s) const {
    auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
      if (log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
  // The address of the "listening on ADDR:PORT;" line.
  std::string listening() {
    REQUIRE(waitForLog("listening on "));
    std::string l = log();
    auto from = l.find("listening on ") + 13;
    return l.substr(from, l.find(';', from) - from);
  }
  int port() {
    if (port_ == 0) port_ = std::stoi(listening().substr(listening().rfind(':') + 1));
    return port_;
  }
  // Waits for the process to exit; its wait status, or nullopt if it still runs at the deadline.
  std::optional<int> waitExit(std::chrono::milliseconds within) {
    auto until = std::chrono::steady_clock::now() + within;
    while (!exitStatus_ && std::chrono::steady_clock::now() < until) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) exitStatus_ = status;
      else std::this_thread::sleep_for(2ms);
    }
    return exitStatus_;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  // SIGKILL, as a crash: the process is gone when this returns.
  void crash() {
    signal(SIGKILL);
    REQUIRE(waitExit(3s));
  }

 private:
  pid_t pid_ = -1;
  int readFd_ = -1;
  int port_ = 0;
  std::optional<int> exitStatus_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::string log_;
};

std::vector<std::string> agentArgs(const TokenFile& token, int targetPort, std::vector<std::string> more = {}) {
  std::vector<std::string> a = {"--listen", "127.0.0.1:0", "--token-file", token.path(), "--target-port",
                                std::to_string(targetPort)};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

ClientResult call(int port, const std::string& method, const std::string& path, std::optional<std::string> token) {
  ClientRequest r;
  r.ip = "127.0.0.1";
  r.port = port;
  r.method = method;
  r.target = path;
  r.timeout = 10s;
  if (token) r.headers.push_back({"Authorization", "Bearer " + *token});
  return httpCall(r);
}

// A port that nothing listens on (it was just closed).
int closedPort() {
  HttpServer s(*parseIpLiteral("127.0.0.1", 0), [](const ServerRequest&) { return ServerResponse(); });
  return s.localAddress().port();
}

ServerResponse jsonReply(int status, std::string body = R"({"status":"success"})") {
  return ServerResponse::json(status, std::move(body));
}

// The kubelet's preStop hook, GET /prestop, sent by a thread of its own (the kubelet waits for the reply); the
// constructor returns once the agent has logged that termination is witnessed.
class PreStopHook {
 public:
  explicit PreStopHook(Agent& agent) {
    int port = agent.port();
    thread_ = std::thread([this, port] {
      ClientResult r = call(port, "GET", "/prestop", std::nullopt);
      std::lock_guard lock(mu_);
      result_ = std::move(r);
      doneAt_ = std::chrono::steady_clock::now();
    });
    REQUIRE(agent.waitForLog("termination witnessed"));
  }
  ~PreStopHook() {
    if (thread_.joinable()) thread_.join();
  }
  bool done() const {
    std::lock_guard lock(mu_);
    return result_.has_value();
  }
  // Waits for the reply (or the connection's end).
  ClientResult result() {
    if (thread_.joinable()) thread_.join();
    return *result_;
  }
  std::chrono::steady_clock::time_point doneAt() {
    result();
    return doneAt_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<ClientResult> result_;
  std::chrono::steady_clock::time_point doneAt_;
  std::thread thread_;
};

// Sends the preStop hook and returns once the agent has witnessed it, without waiting for its release: this client
// gives up after 100 ms (which the agent must tolerate, as a kubelet that stops waiting).
void witnessTermination(Agent& agent) {
  ClientRequest r;
  r.ip = "127.0.0.1";
  r.port = agent.port();
  r.target = "/prestop";
  r.timeout = 100ms;
  httpCall(r);
  REQUIRE(agent.waitForLog("termination witnessed"));
}

// The "released" reason and "heldMs" of a /prestop reply.
std::string released(const ClientResult& r) {
  auto from = r.reply.body.find(R"("released":")");
  if (from == std::string::npos) return "";
  from += 12;
  return r.reply.body.substr(from, r.reply.body.find('"', from) - from);
}
long heldMs(const ClientResult& r) {
  auto from = r.reply.body.find(R"("heldMs":)");
  return from == std::string::npos ? -1 : std::stol(r.reply.body.substr(from + 9));
}

// GET /shutdown's body without its terminatingForMs (a duration): `{"state":...,"terminating":true`.
std::string stateOf(int port, const std::string& token) {
  std::string body = call(port, "GET", "/shutdown", token).reply.body;
  return body.substr(0, body.find(R"(,"terminatingForMs":)"));
}

template <class D>
long ms(D d) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

}  // namespace

TEST_CASE("healthz answers without authentication and the token is never logged") {
  TokenFile token("s3cret-token\n");
  Agent agent(agentArgs(token, closedPort()));
  ClientResult r = call(agent.port(), "GET", "/healthz", std::nullopt);
  REQUIRE(r.ok());
  CHECK(r.reply.status == 200);
  CHECK(r.reply.body == "ok");
  CHECK(call(agent.port(), "POST", "/healthz", std::nullopt).reply.status == 405);
  CHECK(call(agent.port(), "GET", "/other", "s3cret-token").reply.status == 404);
  CHECK(call(agent.port(), "POST", "/shutdown", "wrong").reply.status == 401);
  CHECK(agent.log().find("s3cret-token") == std::string::npos);
}

TEST_CASE("POST /shutdown without the right bearer token is 401 and never reaches the service") {
  TokenFile token("s3cret-token");
  FakeService service(jsonReply(200));
  Agent agent(agentArgs(token, service.port()));
  for (std::optional<std::string> presented :
       {std::optional<std::string>(), std::optional<std::string>("wrong"), std::optional<std::string>("s3cret-toke"),
        std::optional<std::string>("s3cret-token2")}) {
    ClientResult r = call(agent.port(), "POST", "/shutdown", presented);
    REQUIRE(r.ok());
    CHECK(r.reply.status == 401);
    CHECK(r.reply.header("www-authenticate").value() == "Bearer");
  }
  ClientRequest basic;
  basic.ip = "127.0.0.1";
  basic.port = agent.port();
  basic.method = "POST";
  basic.target = "/shutdown";
  basic.headers.push_back({"Authorization", "Basic s3cret-token"});
  CHECK(httpCall(basic).reply.status == 401);
  CHECK(call(agent.port(), "GET", "/shutdown", std::nullopt).reply.status == 401);
  CHECK(service.requests().empty());
}

TEST_CASE("an accepted shutdown is forwarded once, from loopback, without the caller's token") {
  TokenFile token("s3cret-token");
  FakeService service(jsonReply(200));
  Agent agent(agentArgs(token, service.port(), {"--target-path", "/internal-shutdown"}));
  witnessTermination(agent);
  ClientResult r = call(agent.port(), "POST", "/shutdown", "s3cret-token");
  REQUIRE(r.ok());
  CHECK(r.reply.status == 200);
  CHECK(r.reply.body.find(R"("forwarded":true)") != std::string::npos);
  CHECK(r.reply.body.find(R"("status":200)") != std::string::npos);
  auto seen = service.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].path == "/internal-shutdown");
  CHECK(seen[0].peer.isLoopback());
  CHECK(seen[0].peer.ip() == "127.0.0.1");
  CHECK(!seen[0].header("authorization"));
  CHECK(!seen[0].header("x-forwarded-for"));

  CHECK(stateOf(agent.port(), "s3cret-token") == R"({"state":"forwarded","serviceStatus":200,"terminating":true)");
}

TEST_CASE("a busy service's status and Retry-After are relayed and the state stays idle") {
  TokenFile token("t");
  FakeService service([] {
    auto r = jsonReply(409, R"({"error":"busy"})");
    r.headers.push_back({"Retry-After", "4"});
    return r;
  }());
  Agent agent(agentArgs(token, service.port(), {"--target-method", "PUT"}));
  witnessTermination(agent);
  ClientResult r = call(agent.port(), "POST", "/shutdown", "t");
  REQUIRE(r.ok());
  CHECK(r.reply.status == 409);
  CHECK(r.reply.header("retry-after").value() == "4");
  CHECK(service.requests().at(0).method == "PUT");
  CHECK(stateOf(agent.port(), "t") == R"({"state":"idle","serviceStatus":409,"terminating":true)");
}

TEST_CASE("an unreachable service gives 502") {
  TokenFile token("t");
  Agent agent(agentArgs(token, closedPort()));
  witnessTermination(agent);
  ClientResult r = call(agent.port(), "POST", "/shutdown", "t");
  REQUIRE(r.ok());
  CHECK(r.reply.status == 502);
  CHECK(r.reply.body.find(R"("forwarded":false)") != std::string::npos);
  CHECK(r.reply.body.find("connection refused") != std::string::npos);
  CHECK(stateOf(agent.port(), "t") == R"({"state":"idle","serviceStatus":0,"terminating":true)");
}

TEST_CASE("a service that does not answer in time gives 502 with the timeout") {
  TokenFile token("t");
  FakeService service(jsonReply(200));
  service.delayMs = 3000;
  Agent agent(agentArgs(token, service.port(), {"--target-timeout-seconds", "1"}));
  witnessTermination(agent);
  auto start = std::chrono::steady_clock::now();
  ClientResult r = call(agent.port(), "POST", "/shutdown", "t");
  CHECK(std::chrono::steady_clock::now() - start < 2500ms);
  REQUIRE(r.ok());
  CHECK(r.reply.status == 502);
  CHECK(r.reply.body.find("timeout after 1s") != std::string::npos);
}

TEST_CASE("the state becomes done once the service's port closes") {
  TokenFile token("t");
  FakeService service(jsonReply(200));
  Agent agent(agentArgs(token, service.port()));
  witnessTermination(agent);
  REQUIRE(call(agent.port(), "POST", "/shutdown", "t").reply.status == 200);
  // Still listening: the agent must not report done.
  std::this_thread::sleep_for(300ms);
  CHECK(stateOf(agent.port(), "t") == R"({"state":"forwarded","serviceStatus":200,"terminating":true)");
  service.stop();
  auto until = std::chrono::steady_clock::now() + 3s;
  std::string body;
  while (std::chrono::steady_clock::now() < until) {
    body = stateOf(agent.port(), "t");
    if (body.find("done") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(body == R"({"state":"done","serviceStatus":200,"terminating":true)");
  // A repeated request after the service is gone is answered as done, not as a failure.
  ClientResult again = call(agent.port(), "POST", "/shutdown", "t");
  CHECK(again.reply.status == 200);
  CHECK(again.reply.body == R"({"forwarded":false,"state":"done"})");
}

TEST_CASE("loopback falls back to ::1, loopback-ipv4 does not") {
  TokenFile token("t");
  FakeService service(jsonReply(200), "::1");
  {
    Agent agent(agentArgs(token, service.port()));
    witnessTermination(agent);
    ClientResult r = call(agent.port(), "POST", "/shutdown", "t");
    CHECK(r.reply.status == 200);
    CHECK(r.reply.body.find("[::1]:") != std::string::npos);
    REQUIRE(service.requests().size() == 1);
    CHECK(service.requests()[0].peer.ip() == "::1");
  }
  Agent ipv4(agentArgs(token, service.port(), {"--target", "loopback-ipv4"}));
  witnessTermination(ipv4);
  CHECK(call(ipv4.port(), "POST", "/shutdown", "t").reply.status == 502);
  CHECK(service.requests().size() == 1);
}

TEST_CASE("pod-ip targets the address in POD_IP") {
  TokenFile token("t");
  FakeService service(jsonReply(202), "127.0.0.2");
  Agent agent(agentArgs(token, service.port(), {"--target", "pod-ip"}), {"POD_IP=127.0.0.2"});
  witnessTermination(agent);
  ClientResult r = call(agent.port(), "POST", "/shutdown", "t");
  CHECK(r.reply.status == 202);
  CHECK(r.reply.body.find("\"target\":\"127.0.0.2:") != std::string::npos);
  // Reached only through 127.0.0.2 (the kernel picks 127.0.0.1 as the source address on lo).
  CHECK(service.requests().size() == 1);

  Agent noPodIp(agentArgs(token, service.port(), {"--target", "pod-ip"}));
  auto status = noPodIp.waitExit(3s);
  REQUIRE(status);
  CHECK(WEXITSTATUS(*status) == 2);
}

TEST_CASE("a changed token file is re-read") {
  TokenFile token("first");
  FakeService service(jsonReply(200));
  Agent agent(agentArgs(token, service.port()));
  CHECK(call(agent.port(), "GET", "/shutdown", "first").reply.status == 200);
  token.write("second\n");
  CHECK(call(agent.port(), "GET", "/shutdown", "first").reply.status == 401);
  CHECK(call(agent.port(), "GET", "/shutdown", "second").reply.status == 200);
  token.write("");
  CHECK(call(agent.port(), "GET", "/shutdown", "").reply.status == 401);
  CHECK(call(agent.port(), "GET", "/shutdown", "second").reply.status == 401);
}

// SIGTERM to the agent: it must be gone with exit status 0 within a second (milliseconds in practice; slack for CI).
void checkPromptExitOnSigterm(Agent& agent) {
  auto start = std::chrono::steady_clock::now();
  agent.signal(SIGTERM);
  auto status = agent.waitExit(2s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
}

TEST_CASE("SIGTERM ends the agent at once with status 0, even during a forwarded call or a held hook") {
  TokenFile token("t");
  SUBCASE("idle") {
    Agent agent(agentArgs(token, closedPort()));
    agent.port();
    checkPromptExitOnSigterm(agent);
  }
  SUBCASE("forwarding") {
    FakeService service(jsonReply(200));
    service.delayMs = 3000;
    Agent agent(agentArgs(token, service.port(), {"--target-timeout-seconds", "30"}));
    witnessTermination(agent);
    int port = agent.port();
    std::thread caller([port] { call(port, "POST", "/shutdown", "t"); });
    REQUIRE(agent.waitForLog("POST /shutdown from 127.0.0.1"));
    checkPromptExitOnSigterm(agent);
    caller.join();
  }
  SUBCASE("holding a preStop hook") {
    FakeService service(jsonReply(200));
    Agent agent(agentArgs(token, service.port(), {"--prestop-hold-seconds", "30"}));
    PreStopHook hook(agent);
    checkPromptExitOnSigterm(agent);
  }
}

TEST_CASE("--listen takes IPv6, bracketed or as $(POD_IP):PORT expands") {
  TokenFile token("t");
  for (const char* listen : {"[::1]:0", "::1:0"}) {
    Agent agent({"--listen", listen, "--token-file", token.path(), "--target-port", "80"});
    std::string address = agent.listening();
    CHECK(address.starts_with("[::1]:"));
    ClientRequest r;
    r.ip = "::1";
    r.port = std::stoi(address.substr(address.rfind(':') + 1));
    r.target = "/healthz";
    CHECK(httpCall(r).reply.status == 200);
  }
}

TEST_CASE("bad command lines exit 2") {
  TokenFile token("t");
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--token-file", token.path()},
           {"--target-port", "80"},
           {"--token-file", token.path(), "--target-port", "80", "--listen", "localhost:9901"},
           {"--token-file", token.path(), "--target-port", "80", "--target-path", "http://evil/"},
           {"--token-file", token.path(), "--target-port", "80", "--target", "elsewhere"},
           {"--token-file", token.path(), "--target-port", "0"},
           {"--token-file", token.path(), "--target-port", "80", "--bogus", "1"},
           {"--token-file", token.path(), "--target-port", "80", "--prestop-hold-seconds", "0"},
           {"--token-file", token.path(), "--target-port", "80", "--exit-timeout-seconds", "ten"},
           {"--token-file", token.path(), "--target-port", "80", "--await-termination-seconds", "1.2345"},
           {"--token-file", token.path(), "--target-port", "80", "--await-termination-seconds", "-1"},
           // await 2 s + target 5 s + 1 s do not fit in the caller's 7 s
           {"--token-file", token.path(), "--target-port", "80", "--caller-timeout-seconds", "7"}}) {
    Agent agent(args);
    auto status = agent.waitExit(3s);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 2);
  }
}

TEST_CASE("a token rotated by the kubelet's ..data symlink swap: the old token is refused, the new one accepted") {
  // The layout of a Secret volume (kubelet AtomicWriter): token -> ..data/token, ..data -> ..<timestamp>/; an update
  // writes a new timestamped directory, points ..data_tmp at it and renames ..data_tmp over ..data.
  char dir[] = "/tmp/agent-secret-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  std::string root = dir;
  auto writeVersion = [&](const std::string& version, const std::string& token) {
    REQUIRE(::mkdir((root + "/" + version).c_str(), 0755) == 0);
    std::ofstream(root + "/" + version + "/token") << token;
    REQUIRE(::symlink(version.c_str(), (root + "/..data_tmp").c_str()) == 0);
    REQUIRE(std::rename((root + "/..data_tmp").c_str(), (root + "/..data").c_str()) == 0);
  };
  writeVersion("..2026_12_06_05_00_00.1", "old-token\n");
  REQUIRE(::symlink("..data/token", (root + "/token").c_str()) == 0);
  Agent agent({"--listen", "127.0.0.1:0", "--token-file", root + "/token", "--target-port", std::to_string(closedPort())});
  CHECK(call(agent.port(), "GET", "/shutdown", "old-token").reply.status == 200);
  writeVersion("..2026_12_06_05_01_00.2", "new-token\n");
  CHECK(call(agent.port(), "GET", "/shutdown", "old-token").reply.status == 401);
  CHECK(call(agent.port(), "GET", "/shutdown", "new-token").reply.status == 200);
  CHECK(agent.log().find("new-token") == std::string::npos);
  std::remove((root + "/token").c_str());
  std::remove((root + "/..data").c_str());
  for (const char* v : {"..2026_12_06_05_00_00.1", "..2026_12_06_05_01_00.2"}) {
    std::remove((root + "/" + v + "/token").c_str());
    ::rmdir((root + "/" + v).c_str());
  }
  ::rmdir(root.c_str());
}

TEST_CASE("preStop hook: held until the service's port closes after an accepted call") {
  TokenFile token("t");
  FakeService service(jsonReply(200));
  Agent agent(agentArgs(token, service.port(), {"--prestop-hold-seconds", "5", "--exit-timeout-seconds", "5"}));
  PreStopHook hook(agent);
  PreStopHook concurrent(agent);  // a second hook at the same time is answered by the same rule
  // The service accepts the call, then closes its listener 300 ms later (as a real service exits after saving).
  std::chrono::steady_clock::time_point beforeClose, afterClose;
  std::thread exits([&] {
    auto until = std::chrono::steady_clock::now() + 3s;
    while (service.requests().empty() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(300ms);
    beforeClose = std::chrono::steady_clock::now();
    service.stop();
    afterClose = std::chrono::steady_clock::now();
  });
  ClientResult post = call(agent.port(), "POST", "/shutdown", "t");
  CHECK(post.reply.status == 200);
  CHECK(!hook.done());  // the service has not exited yet: SIGTERM is still held off
  exits.join();
  ClientResult r = hook.result();
  REQUIRE(r.ok());
  CHECK(r.reply.status == 200);
  CHECK(released(r) == "service-exited");
  CHECK(hook.doneAt() > beforeClose);              // not released before the port closed
  CHECK(ms(hook.doneAt() - afterClose) < 1000);    // but soon after (probes every 75 ms)
  CHECK(heldMs(r) >= 300);
  CHECK(released(concurrent.result()) == "service-exited");
  CHECK(concurrent.doneAt() > beforeClose);
  CHECK(stateOf(agent.port(), "t") == R"({"state":"done","serviceStatus":200,"terminating":true)");
}

TEST_CASE("preStop hook: held until the exit timeout when the service keeps its port open (hung reload parent)") {
  TokenFile token("t");
  FakeService service(jsonReply(200));  // answers 200 and keeps listening
  Agent agent(agentArgs(token, service.port(), {"--prestop-hold-seconds", "5", "--exit-timeout-seconds", "0.4"}));
  PreStopHook hook(agent);
  std::this_thread::sleep_for(100ms);
  auto postSent = std::chrono::steady_clock::now();
  REQUIRE(call(agent.port(), "POST", "/shutdown", "t").reply.status == 200);
  auto postAnswered = std::chrono::steady_clock::now();
  ClientResult r = hook.result();
  REQUIRE(r.ok());
  CHECK(released(r) == "exit-timeout");
  CHECK(ms(hook.doneAt() - postSent) >= 400);       // the exit timer starts at the accepted call, not at the hook
  CHECK(ms(hook.doneAt() - postAnswered) < 2000);   // and releases long before the 5 s hold bound
}

TEST_CASE("preStop hook: held until the hold timeout without a call, as a port that accepts but never answers is open") {
  TokenFile token("t");
  HungPort hung;
  Agent agent(agentArgs(token, hung.port(), {"--prestop-hold-seconds", "0.4", "--exit-timeout-seconds", "0.1"}));
  agent.port();
  auto sent = std::chrono::steady_clock::now();
  PreStopHook hook(agent);
  ClientResult r = hook.result();
  REQUIRE(r.ok());
  CHECK(released(r) == "hold-timeout");
  CHECK(heldMs(r) >= 400);
  CHECK(ms(hook.doneAt() - sent) >= 400);
  CHECK(ms(hook.doneAt() - sent) < 2000);
  // Termination stays witnessed; a repeated hook is answered by the same rule: the bound counts from the first hook.
  std::string state = call(agent.port(), "GET", "/shutdown", "t").reply.body;
  CHECK(state.find(R"("terminating":true,"terminatingForMs":)") != std::string::npos);
  ClientResult again = call(agent.port(), "GET", "/prestop", std::nullopt);
  CHECK(released(again) == "hold-timeout");
  CHECK(heldMs(again) < 300);
}

TEST_CASE("preStop hook: released at once when the service is not listening") {
  TokenFile token("t");
  Agent agent(agentArgs(token, closedPort(), {"--prestop-hold-seconds", "5"}));
  agent.port();
  auto sent = std::chrono::steady_clock::now();
  ClientResult r = call(agent.port(), "GET", "/prestop", std::nullopt);
  REQUIRE(r.ok());
  CHECK(r.reply.status == 200);
  CHECK(released(r) == "not-listening");
  CHECK(ms(std::chrono::steady_clock::now() - sent) < 1000);
  CHECK(call(agent.port(), "POST", "/prestop", std::nullopt).reply.status == 405);
  CHECK(agent.waitForLog("termination witnessed"));
}

TEST_CASE("preStop hook: /healthz and POST /shutdown are served while a hook is held") {
  TokenFile token("t");
  FakeService service(jsonReply(200));
  Agent agent(agentArgs(token, service.port(), {"--prestop-hold-seconds", "5", "--exit-timeout-seconds", "5"}));
  PreStopHook hook(agent);
  for (int i = 0; i < 3; ++i) {
    auto sent = std::chrono::steady_clock::now();
    ClientResult health = call(agent.port(), "GET", "/healthz", std::nullopt);
    CHECK(health.reply.status == 200);
    CHECK(ms(std::chrono::steady_clock::now() - sent) < 500);
  }
  ClientResult post = call(agent.port(), "POST", "/shutdown", "t");
  CHECK(post.reply.status == 200);
  CHECK(post.reply.body.find(R"("forwarded":true)") != std::string::npos);
  CHECK(stateOf(agent.port(), "t") == R"({"state":"forwarded","serviceStatus":200,"terminating":true)");
  CHECK(!hook.done());  // still held: the service keeps its port
  agent.crash();        // ends the hold for this test
}

TEST_CASE("/healthz answers while a call is forwarded to a slow service") {
  TokenFile token("t");
  FakeService service(jsonReply(200));
  service.delayMs = 1500;
  Agent agent(agentArgs(token, service.port()));
  witnessTermination(agent);
  int port = agent.port();
  ClientResult post;
  std::thread caller([&] { post = call(port, "POST", "/shutdown", "t"); });
  auto until = std::chrono::steady_clock::now() + 3s;
  while (service.requests().empty() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  auto sent = std::chrono::steady_clock::now();
  CHECK(call(port, "GET", "/healthz", std::nullopt).reply.status == 200);
  CHECK(ms(std::chrono::steady_clock::now() - sent) < 500);  // not behind the 1.5 s call
  CHECK(stateOf(port, "t") == R"({"state":"idle","serviceStatus":0,"terminating":true)");  // nor is the state
  caller.join();
  CHECK(post.reply.status == 200);
}

TEST_CASE("POST /shutdown before the hook waits for it and is forwarded only after it arrives") {
  TokenFile token("t");
  FakeService service(jsonReply(200));
  Agent agent(agentArgs(token, service.port(), {"--await-termination-seconds", "3", "--exit-timeout-seconds", "0.2"}));
  int port = agent.port();
  ClientResult post;
  std::thread caller([&] { post = call(port, "POST", "/shutdown", "t"); });
  REQUIRE(agent.waitForLog("POST /shutdown from 127.0.0.1"));
  std::this_thread::sleep_for(200ms);
  CHECK(service.requests().empty());  // not forwarded without the hook
  auto hookSent = std::chrono::steady_clock::now();
  PreStopHook hook(agent);
  caller.join();
  CHECK(post.reply.status == 200);
  CHECK(post.reply.body.find(R"("forwarded":true)") != std::string::npos);
  REQUIRE(service.arrivals().size() == 1);
  CHECK(service.arrivals()[0] > hookSent);
  CHECK(ms(std::chrono::steady_clock::now() - hookSent) < 2000);  // forwarded when the hook came, not at the bound
  CHECK(released(hook.result()) == "exit-timeout");
}

TEST_CASE("POST /shutdown without the hook: 503 awaiting-termination with Retry-After, nothing forwarded") {
  TokenFile token("t");
  FakeService service(jsonReply(200));
  Agent agent(agentArgs(token, service.port(), {"--await-termination-seconds", "0.3"}));
  agent.port();
  auto sent = std::chrono::steady_clock::now();
  ClientResult r = call(agent.port(), "POST", "/shutdown", "t");
  REQUIRE(r.ok());
  CHECK(ms(std::chrono::steady_clock::now() - sent) >= 300);
  CHECK(r.reply.status == 503);
  CHECK(r.reply.header("retry-after").value() == "1");
  CHECK(r.reply.body == R"({"forwarded":false,"state":"awaiting-termination"})");
  CHECK(service.requests().empty());
  CHECK(call(agent.port(), "GET", "/shutdown", "t").reply.body ==
        R"({"state":"idle","serviceStatus":0,"terminating":false,"terminatingForMs":0})");
}

TEST_CASE("a service refusing 409 or 429 through the agent: passed back with Retry-After, not accepted") {
  TokenFile token("t");
  for (int status : {409, 429}) {
    CAPTURE(status);
    FakeService service([status] {
      auto r = jsonReply(status, R"({"error":"busy"})");
      r.headers.push_back({"Retry-After", "7"});
      return r;
    }());
    // A short exit timeout: if the refusal started it, the hook would be released by it, before the hold bound.
    Agent agent(agentArgs(token, service.port(), {"--prestop-hold-seconds", "0.8", "--exit-timeout-seconds", "0.1"}));
    PreStopHook hook(agent);
    ClientResult r = call(agent.port(), "POST", "/shutdown", "t");
    REQUIRE(r.ok());
    CHECK(r.reply.status == status);
    CHECK(r.reply.header("retry-after").value() == "7");
    CHECK(r.reply.body.find(R"("forwarded":true)") != std::string::npos);
    CHECK(stateOf(agent.port(), "t") ==
          R"({"state":"idle","serviceStatus":)" + std::to_string(status) + R"(,"terminating":true)");
    ClientResult held = hook.result();
    CHECK(released(held) == "hold-timeout");
    CHECK(heldMs(held) >= 700);  // from its own arrival, a little after the first-hook clock started
  }
}

TEST_CASE("the agent crashing while a hook is held: the hook's client sees the connection break at once") {
  TokenFile token("t");
  FakeService service(jsonReply(200));
  Agent agent(agentArgs(token, service.port(), {"--prestop-hold-seconds", "30"}));
  PreStopHook hook(agent);
  CHECK(!hook.done());
  auto killed = std::chrono::steady_clock::now();
  agent.crash();
  ClientResult r = hook.result();
  CHECK(!r.ok());  // no reply: a real kubelet records FailedPreStopHook and sends SIGTERM
  CHECK(!r.headComplete);
  CHECK(ms(hook.doneAt() - killed) < 1000);
}

TEST_CASE("timeouts that nest inside --caller-timeout-seconds are accepted, in decimal seconds") {
  TokenFile token("t");
  Agent agent({"--listen", "127.0.0.1:0", "--token-file", token.path(), "--target-port", "80",
               "--await-termination-seconds", "1.5", "--target-timeout-seconds", "3", "--caller-timeout-seconds", "5.5",
               "--prestop-hold-seconds=0.25", "--exit-timeout-seconds", "12"});
  CHECK(agent.waitForLog("preStop hold 250 ms, exit timeout 12000 ms, await termination 1500 ms"));
}
