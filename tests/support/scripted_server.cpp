#include "support/scripted_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace mv::testing {

// ---------------------------------------------------------------------------------------------------------------
// Gate

void Gate::open() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
  }
  cv_.notify_all();
}

bool Gate::isOpen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

bool Gate::wait(std::chrono::milliseconds timeout, const std::atomic<bool>& stop) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  while (!open_) {
    if (stop.load() || std::chrono::steady_clock::now() >= deadline) return false;
    // Short slices: `stop` is not signalled through this condition variable.
    cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Reply

namespace {

const char* reasonPhrase(int code) {
  switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string head(int code, const Headers& headers) {
  std::string out = "HTTP/1.1 " + std::to_string(code) + " " + reasonPhrase(code) + "\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  return out;
}

bool hasHeader(const Headers& headers, const std::string& lowerName) {
  for (const auto& [k, v] : headers)
    if (lower(k) == lowerName) return true;
  return false;
}

}  // namespace

Reply Reply::status(int code, std::string body, Headers headers) {
  Reply r;
  std::string text = head(code, headers);
  text += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  text += body;
  r.steps_.push_back({Step::Kind::Bytes, std::move(text), {}, nullptr});
  r.keepAlive_ = true;
  for (const auto& [k, v] : headers)
    if (lower(k) == "connection" && lower(v) == "close") r.keepAlive_ = false;
  return r;
}

Reply Reply::json(int code, std::string body, Headers headers) {
  if (!hasHeader(headers, "content-type")) headers["Content-Type"] = "application/json";
  return status(code, std::move(body), std::move(headers));
}

Reply Reply::chunked(int code, Headers headers) {
  Reply r;
  if (!hasHeader(headers, "content-type")) headers["Content-Type"] = "application/json";
  headers["Transfer-Encoding"] = "chunked";
  headers["Connection"] = "close";
  r.steps_.push_back({Step::Kind::Bytes, head(code, headers) + "\r\n", {}, nullptr});
  return r;
}

Reply Reply::raw(std::string bytes) {
  Reply r;
  r.steps_.push_back({Step::Kind::Bytes, std::move(bytes), {}, nullptr});
  r.steps_.push_back({Step::Kind::Close, {}, {}, nullptr});
  return r;
}

Reply Reply::hang() {
  Reply r;
  r.steps_.push_back({Step::Kind::Hang, {}, {}, nullptr});
  return r;
}

Reply& Reply::chunk(std::string data) {
  if (!data.empty()) steps_.push_back({Step::Kind::Chunk, std::move(data), {}, nullptr});
  return *this;
}

Reply& Reply::bytes(std::string data) {
  steps_.push_back({Step::Kind::Bytes, std::move(data), {}, nullptr});
  return *this;
}

Reply& Reply::delay(std::chrono::milliseconds d) {
  steps_.push_back({Step::Kind::Delay, {}, d, nullptr});
  return *this;
}

Reply& Reply::waitFor(std::shared_ptr<Gate> gate, std::chrono::milliseconds timeout) {
  steps_.push_back({Step::Kind::WaitGate, {}, timeout, std::move(gate)});
  return *this;
}

Reply& Reply::end() {
  steps_.push_back({Step::Kind::LastChunk, {}, {}, nullptr});
  return *this;
}

Reply& Reply::close() {
  steps_.push_back({Step::Kind::Close, {}, {}, nullptr});
  keepAlive_ = false;
  return *this;
}

Reply& Reply::stall() {
  steps_.push_back({Step::Kind::Hang, {}, {}, nullptr});
  keepAlive_ = false;
  return *this;
}

Reply& Reply::cutAfter(std::size_t n) {
  cutAfter_ = n;
  keepAlive_ = false;
  return *this;
}

// ---------------------------------------------------------------------------------------------------------------
// Connection: one accepted socket, plain or TLS, read and written by one worker thread.

struct ScriptedServer::Connection {
  int id = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  std::string in;  // bytes read but not consumed yet
  std::string certSubject;
  std::string certCn;
  std::string sni;
  std::mutex mu;  // guards fd/closed against stop() shutting the socket down from another thread
  bool closed = false;

  // Reads what is available (blocking until something is, the peer closes, or `stop`). False on EOF/error/stop.
  bool readSome(const std::atomic<bool>& stop) {
    char buf[16384];
    while (!stop.load()) {
      if (!(ssl && SSL_pending(ssl) > 0)) {
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, 50);
        if (r < 0 && errno != EINTR) return false;
        if (r <= 0) continue;
      }
      long n = ssl ? SSL_read(ssl, buf, sizeof buf) : ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        if (!ssl && n < 0 && errno == EINTR) continue;
        ERR_clear_error();
        return false;
      }
      in.append(buf, static_cast<std::size_t>(n));
      return true;
    }
    return false;
  }

  bool writeAll(std::string_view data) {
    std::size_t off = 0;
    while (off < data.size()) {
      long n;
      if (ssl) {
        n = SSL_write(ssl, data.data() + off, static_cast<int>(data.size() - off));
      } else {
        n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
      }
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads up to and including "\r\n" into `line` (without it). False on EOF/stop.
  bool readLine(std::string& line, const std::atomic<bool>& stop) {
    for (;;) {
      auto pos = in.find("\r\n");
      if (pos != std::string::npos) {
        line = in.substr(0, pos);
        in.erase(0, pos + 2);
        return true;
      }
      if (in.size() > (1u << 20) || !readSome(stop)) return false;
    }
  }

  bool readExactly(std::size_t n, std::string& out, const std::atomic<bool>& stop) {
    while (in.size() < n)
      if (!readSome(stop)) return false;
    out.append(in, 0, n);
    in.erase(0, n);
    return true;
  }

  // Parses one request (request line, headers, a Content-Length or chunked body). False on EOF, stop or garbage.
  bool readRequest(RecordedRequest& req, const std::atomic<bool>& stop);
};

namespace {
std::string trim(const std::string& s);
}

bool ScriptedServer::Connection::readRequest(RecordedRequest& req, const std::atomic<bool>& stop) {
  std::string line;
  if (!readLine(line, stop)) return false;
  std::istringstream requestLine(line);
  std::string version;
  if (!(requestLine >> req.method >> req.pathAndQuery >> version) || version.rfind("HTTP/1.", 0) != 0) return false;
  for (;;) {
    if (!readLine(line, stop)) return false;
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string::npos) return false;
    std::string key = lower(trim(line.substr(0, colon)));
    std::string value = trim(line.substr(colon + 1));
    auto [it, inserted] = req.headers.emplace(key, value);
    if (!inserted) it->second += ", " + value;
  }
  if (lower(req.header("transfer-encoding")).find("chunked") != std::string::npos) {
    for (;;) {
      if (!readLine(line, stop)) return false;
      std::size_t size = std::stoul(line, nullptr, 16);
      if (size == 0) {
        do {  // trailers, up to the empty line
          if (!readLine(line, stop)) return false;
        } while (!line.empty());
        return true;
      }
      std::string crlf;
      if (!readExactly(size, req.body, stop) || !readExactly(2, crlf, stop)) return false;
    }
  }
  std::string length = req.header("content-length");
  if (!length.empty()) return readExactly(std::stoul(length), req.body, stop);
  return true;
}

namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::string opensslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown error" : out;
}

std::vector<X509*> readCerts(const std::string& pem) {
  std::vector<X509*> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.push_back(c);
  BIO_free(bio);
  ERR_clear_error();  // the loop ends on a "no start line" error
  return out;
}

SSL_CTX* makeServerContext(const ServerOptions& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) throw std::runtime_error("scripted server: SSL_CTX_new: " + opensslError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (o.tls12Only) SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  auto certs = readCerts(o.certPem);
  if (certs.empty()) {
    SSL_CTX_free(ctx);
    throw std::runtime_error("scripted server: no certificate in certPem");
  }
  SSL_CTX_use_certificate(ctx, certs[0]);
  X509_free(certs[0]);
  for (std::size_t i = 1; i < certs.size(); ++i) SSL_CTX_add_extra_chain_cert(ctx, certs[i]);  // takes ownership
  BIO* bio = BIO_new_mem_buf(o.keyPem.data(), static_cast<int>(o.keyPem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key || SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    EVP_PKEY_free(key);
    std::string err = opensslError();
    SSL_CTX_free(ctx);
    throw std::runtime_error("scripted server: bad key: " + err);
  }
  EVP_PKEY_free(key);
  if (!o.clientCaPem.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    for (X509* c : readCerts(o.clientCaPem)) {
      X509_STORE_add_cert(store, c);
      sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(c)));
      X509_free(c);
    }
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (o.requireClientCert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), nullptr);
  }
  ERR_clear_error();
  return ctx;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// ScriptedServer

ScriptedServer::ScriptedServer(ServerOptions options) : options_(std::move(options)) {
  std::signal(SIGPIPE, SIG_IGN);
  if (options_.tls) sslCtx_ = makeServerContext(options_);

  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0) throw std::runtime_error("scripted server: socket: " + std::string(std::strerror(errno)));
  int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  if (::inet_pton(AF_INET, options_.bindAddress.c_str(), &addr.sin_addr) != 1) {
    ::close(listenFd_);
    throw std::runtime_error("scripted server: not an IPv4 address: " + options_.bindAddress);
  }
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listenFd_, 64) != 0) {
    std::string err = std::strerror(errno);
    ::close(listenFd_);
    if (sslCtx_) SSL_CTX_free(static_cast<SSL_CTX*>(sslCtx_));
    throw std::runtime_error("scripted server: bind/listen on " + options_.bindAddress + ": " + err);
  }
  socklen_t len = sizeof addr;
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

ScriptedServer::~ScriptedServer() { stop(); }

std::string ScriptedServer::url() const {
  return std::string(options_.tls ? "https://" : "http://") + options_.bindAddress + ":" + std::to_string(port_);
}

ScriptedServer& ScriptedServer::expect(Expect request, Reply reply) {
  std::lock_guard<std::mutex> lock(mu_);
  script_.push_back({std::move(request), std::move(reply)});
  return *this;
}

std::vector<RecordedRequest> ScriptedServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<std::string> ScriptedServer::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

std::vector<std::string> ScriptedServer::tlsErrors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tlsErrors_;
}

std::size_t ScriptedServer::pendingEntries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return script_.size() - next_;
}

bool ScriptedServer::waitForRequests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

bool ScriptedServer::waitForTlsErrors(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return tlsErrors_.size() >= n; });
}

void ScriptedServer::recordFailure(std::string failure) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.push_back(std::move(failure));
  }
  cv_.notify_all();
}

bool ScriptedServer::pause(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stop_.load(); });
}

void ScriptedServer::stop() {
  if (stop_.exchange(true)) return;
  cv_.notify_all();
  ::shutdown(listenFd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::shared_ptr<Connection>> open;
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    open = open_;
    workers.swap(workers_);
  }
  for (auto& c : open) {
    std::lock_guard<std::mutex> lock(c->mu);
    if (!c->closed) ::shutdown(c->fd, SHUT_RDWR);
  }
  for (auto& t : workers) t.join();
  ::close(listenFd_);
  listenFd_ = -1;
  if (sslCtx_) SSL_CTX_free(static_cast<SSL_CTX*>(sslCtx_));
  sslCtx_ = nullptr;
}

void ScriptedServer::acceptLoop() {
  while (!stop_.load()) {
    pollfd p{listenFd_, POLLIN, 0};
    int r = ::poll(&p, 1, 50);
    if (r <= 0) continue;
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto conn = std::make_shared<Connection>();
    conn->fd = fd;
    conn->id = ++connections_;
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_.load()) {
      ::close(fd);
      break;
    }
    open_.push_back(conn);
    workers_.emplace_back([this, conn] { serve(conn); });
  }
}

void ScriptedServer::serve(std::shared_ptr<Connection> conn) {
  Connection& c = *conn;
  if (sslCtx_) {
    c.ssl = SSL_new(static_cast<SSL_CTX*>(sslCtx_));
    SSL_set_fd(c.ssl, c.fd);
    ERR_clear_error();
    if (SSL_accept(c.ssl) != 1) {
      std::string err = opensslError();
      {
        std::lock_guard<std::mutex> lock(mu_);
        tlsErrors_.push_back("connection " + std::to_string(c.id) + ": " + err);
      }
      cv_.notify_all();
    } else {
      if (const char* sni = SSL_get_servername(c.ssl, TLSEXT_NAMETYPE_host_name)) c.sni = sni;
      if (X509* peer = SSL_get1_peer_certificate(c.ssl)) {
        X509_NAME* name = X509_get_subject_name(peer);
        BIO* bio = BIO_new(BIO_s_mem());
        X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
        char* data = nullptr;
        long n = BIO_get_mem_data(bio, &data);
        c.certSubject.assign(data, static_cast<std::size_t>(n));
        BIO_free(bio);
        char cn[256] = {0};
        if (X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof cn) > 0) c.certCn = cn;
        X509_free(peer);
      }
    }
  }
  if (!options_.banner.empty() && !c.ssl) {
    c.writeAll(options_.banner);
    ::shutdown(c.fd, SHUT_WR);
    while (c.readSome(stop_)) c.in.clear();  // until the client leaves: closing with unread data would reset
  }
  bool handshakeOk = (!c.ssl || SSL_is_init_finished(c.ssl)) && options_.banner.empty();
  while (handshakeOk && !stop_.load()) {
    RecordedRequest req;
    bool ok = false;
    try {
      ok = c.readRequest(req, stop_);
    } catch (const std::exception&) {  // a malformed number in a header or chunk size
      ok = false;
    }
    if (!ok) break;
    req.clientCertSubject = c.certSubject;
    req.clientCertCommonName = c.certCn;
    req.tlsServerName = c.sni;
    req.connection = c.id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
    }
    cv_.notify_all();
    Reply reply = match(req);
    if (!play(c, reply)) break;
  }
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.ssl) {
    if (SSL_is_init_finished(c.ssl)) SSL_shutdown(c.ssl);  // close_notify, without waiting for the peer's
    SSL_free(c.ssl);
    c.ssl = nullptr;
  }
  ERR_clear_error();
  ::close(c.fd);
  c.closed = true;
}

Reply ScriptedServer::match(const RecordedRequest& req) {
  std::string what = req.method + " " + req.pathAndQuery;
  std::unique_lock<std::mutex> lock(mu_);
  if (next_ >= script_.size()) {
    lock.unlock();
    recordFailure("unexpected request " + what + " (the script has no more entries)");
    return Reply::status(500, "scripted server: unexpected request " + what + "\n", {{"Connection", "close"}});
  }
  const Entry& e = script_[next_];
  bool methodOk = e.expect.method.empty() || e.expect.method == req.method;
  bool pathOk = e.expect.pathMatches ? e.expect.pathMatches(req.pathAndQuery)
                                     : (e.expect.method.empty() && e.expect.pathAndQuery.empty()) ||
                                           e.expect.pathAndQuery == req.pathAndQuery;
  if (!methodOk || !pathOk) {
    std::string expected = e.expect.method + " " + (e.expect.pathMatches ? "<predicate>" : e.expect.pathAndQuery);
    lock.unlock();
    recordFailure("unexpected request " + what + " (expected " + expected + ")");
    return Reply::status(500, "scripted server: unexpected request " + what + "\n", {{"Connection", "close"}});
  }
  Entry entry = script_[next_++];
  lock.unlock();
  for (const auto& [k, v] : entry.expect.headers) {
    std::string got = req.header(k);
    if (got != v) recordFailure(what + ": header " + k + " is \"" + got + "\", expected \"" + v + "\"");
  }
  if (entry.expect.body && *entry.expect.body != req.body)
    recordFailure(what + ": body is \"" + req.body + "\", expected \"" + *entry.expect.body + "\"");
  if (entry.expect.bodyMatches && !entry.expect.bodyMatches(req.body))
    recordFailure(what + ": body \"" + req.body + "\" does not satisfy the predicate");
  return entry.reply;
}

bool ScriptedServer::play(Connection& c, const Reply& reply) {
  std::size_t sent = 0;
  const auto cut = reply.cutAfterBytes();
  // Sends `data`, honouring cutAfter(); false when the connection is to be closed now.
  auto send = [&](std::string_view data) {
    if (cut && sent + data.size() >= *cut) {
      c.writeAll(data.substr(0, *cut - sent));
      sent = *cut;
      return false;
    }
    sent += data.size();
    return c.writeAll(data);
  };
  for (const auto& step : reply.steps()) {
    if (stop_.load()) return false;
    switch (step.kind) {
      case Reply::Step::Kind::Bytes:
        if (!send(step.data)) return false;
        break;
      case Reply::Step::Kind::Chunk: {
        std::ostringstream size;
        size << std::hex << step.data.size();
        if (!send(size.str() + "\r\n" + step.data + "\r\n")) return false;
        break;
      }
      case Reply::Step::Kind::LastChunk:
        if (!send("0\r\n\r\n")) return false;
        break;
      case Reply::Step::Kind::Delay:
        if (!pause(step.duration)) return false;
        break;
      case Reply::Step::Kind::WaitGate:
        if (!step.gate->wait(step.duration, stop_)) {
          if (!stop_.load())
            recordFailure("a gate was not opened within " + std::to_string(step.duration.count()) +
                          " ms (did the client deliver the earlier pieces?)");
          return false;
        }
        break;
      case Reply::Step::Kind::Close: return false;
      case Reply::Step::Kind::Hang:
        // Drain whatever the client sends until it leaves or the server stops.
        while (c.readSome(stop_)) c.in.clear();
        return false;
    }
  }
  return reply.keepsAlive();
}

}  // namespace mv::testing
