#include "net/http_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <thread>
#include <vector>

namespace mv::net {

namespace {

// How long a connection whose response is written may linger while the client's remaining bytes are discarded.
constexpr std::chrono::milliseconds kDrainTime{1000};

}  // namespace

ServerResponse ServerResponse::text(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  r.body = std::move(body);
  return r;
}

ServerResponse ServerResponse::json(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.headers.push_back({"Content-Type", "application/json"});
  r.body = std::move(body);
  return r;
}

std::string serializeResponse(const ServerResponse& response, bool headRequest) {
  std::string out;
  std::string_view reason = response.reason.empty() ? standardReason(response.status) : response.reason;
  out.append("HTTP/1.1 ").append(std::to_string(response.status)).append(" ").append(reason).append("\r\n");
  for (const auto& h : response.headers) {
    if (equalsIgnoreCase(h.name, "content-length") || equalsIgnoreCase(h.name, "connection")) continue;
    out.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  out.append("Content-Length: ").append(std::to_string(response.body.size())).append("\r\n");
  out.append("Connection: close\r\n\r\n");
  if (!headRequest) out.append(response.body);
  return out;
}

HttpServer::HttpServer(const SocketAddress& address, Handler handler, ServerOptions options)
    : handler_(std::move(handler)), options_(options) {
  auto fail = [&](const char* what) {
    throw std::system_error(errno, std::generic_category(), std::string(what) + " " + address.toString());
  };
  if (address.empty()) throw std::system_error(EAFNOSUPPORT, std::generic_category(), "listen: no address");
  listen_ = Fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listen_) fail("socket for");
  int one = 1;
  ::setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(listen_.get(), address.get(), address.length()) < 0) fail("bind");
  if (::listen(listen_.get(), options_.backlog) < 0) fail("listen on");
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&bound), &len) < 0) fail("getsockname of");
  local_ = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&bound), len);
  if (options_.handlerThreads > 0) {
    jobsDone_ = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!jobsDone_) fail("eventfd for");
  }
}

HttpServer::~HttpServer() {
  std::unique_lock lock(jobsMutex_);
  jobsIdle_.wait(lock, [this] { return jobsRunning_ == 0; });
}

bool HttpServer::serveOnce(std::chrono::milliseconds maxWait, int interruptFd) {
  auto now = SteadyClock::now();
  Deadline wake{now + maxWait};
  for (const auto& c : connections_)
    if (c.state != Connection::State::Handling && c.deadline < wake.at) wake.at = c.deadline;

  std::vector<pollfd> fds;
  fds.reserve(connections_.size() + 3);
  fds.push_back({listen_.get(), POLLIN, 0});
  fds.push_back({interruptFd, POLLIN, 0});      // poll ignores negative descriptors
  fds.push_back({jobsDone_.get(), POLLIN, 0});  // -1 without handler threads
  for (const auto& c : connections_) {
    short events = c.state == Connection::State::Writing ? POLLOUT : POLLIN;
    if (c.state == Connection::State::Handling) events = 0;  // not read meanwhile; POLLHUP and POLLERR still come
    fds.push_back({c.fd.get(), events, 0});
  }

  int n = ::poll(fds.data(), fds.size(), wake.pollTimeoutMs());
  if (n < 0) return false;  // EINTR: the caller loops
  bool interrupted = interruptFd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR));

  std::size_t i = 3;
  for (auto& c : connections_) {
    short ev = fds[i++].revents;
    if (ev == 0 || closed(c)) continue;
    if (c.state == Connection::State::Handling) c.fd.reset();  // hung up or failed: no one will read the answer
    else if (c.state == Connection::State::Writing) onWritable(c);
    else onReadable(c);
  }
  if (fds[2].revents & POLLIN) collectFinishedJobs();
  if (fds[0].revents & POLLIN) acceptAll();

  now = SteadyClock::now();
  for (auto& c : connections_) {
    if (closed(c) || c.state == Connection::State::Handling || now < c.deadline) continue;
    if (c.state == Connection::State::Reading) {
      // Best effort: a slow client is told why before it is dropped.
      std::string r = serializeResponse(ServerResponse::text(408, "request timeout\n"), false);
      (void)::send(c.fd.get(), r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    c.fd.reset();
  }
  connections_.remove_if([](const Connection& c) { return !c.fd.valid(); });
  return interrupted;
}

void HttpServer::acceptAll() {
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int fd = ::accept4(listen_.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient error (EMFILE, ECONNABORTED): retried on the next readiness
    if (connections_.size() >= options_.maxConnections) {
      // Make room by dropping the oldest connection that has not sent its request yet; never one being handled.
      auto reading = std::find_if(connections_.begin(), connections_.end(),
                                  [](const Connection& c) { return c.state == Connection::State::Reading; });
      if (reading == connections_.end()) {
        std::string r = serializeResponse(ServerResponse::text(503, "too many connections\n"), false);
        (void)::send(fd, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(fd);
        continue;
      }
      connections_.erase(reading);
    }
    Connection& c = connections_.emplace_back();
    c.fd = Fd(fd);
    c.peer = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&peer), len);
    c.deadline = SteadyClock::now() + options_.connectionTimeout;
  }
}

void HttpServer::onReadable(Connection& c) {
  char buffer[4096];
  const std::size_t limit = options_.maxHeadBytes + options_.maxBodyBytes;
  for (;;) {
    ssize_t n = ::recv(c.fd.get(), buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {  // EOF or reset: nothing more will come, and no one would read an answer
      c.fd.reset();
      return;
    }
    if (c.state == Connection::State::Draining) continue;  // discarded
    if (c.in.size() < limit + 1) c.in.append(buffer, static_cast<std::size_t>(n));
    if (c.in.size() > limit) break;
  }
  if (c.state == Connection::State::Reading) advance(c);
}

void HttpServer::advance(Connection& c) {
  if (!c.headParsed) {
    std::size_t end = findHeadEnd(c.in);
    if (end == std::string::npos || end > options_.maxHeadBytes) {
      if (c.in.size() > options_.maxHeadBytes)
        respond(c, ServerResponse::text(431, "request head too large\n"), false);
      return;
    }
    RequestHead head;
    std::string error;
    if (!parseRequestHead(std::string_view(c.in).substr(0, end), head, error)) {
      int status = error == "unsupported HTTP version" ? 505 : 400;
      respond(c, ServerResponse::text(status, error + "\n"), false);
      return;
    }
    if (findHeader(head.headers, "transfer-encoding")) {
      respond(c, ServerResponse::text(411, "a body needs a Content-Length\n"), false);
      return;
    }
    auto length = contentLength(head.headers);
    if (length && *length < 0) {
      respond(c, ServerResponse::text(400, "malformed Content-Length\n"), false);
      return;
    }
    if (length && static_cast<unsigned long long>(*length) > options_.maxBodyBytes) {
      respond(c, ServerResponse::text(413, "request body too large\n"), false);
      return;
    }
    c.headParsed = true;
    c.bodyStart = end;
    c.bodyLength = length ? static_cast<std::size_t>(*length) : 0;
    c.request.method = std::move(head.method);
    c.request.target = std::move(head.target);
    c.request.path = c.request.target.substr(0, c.request.target.find('?'));
    c.request.minorVersion = head.minorVersion;
    c.request.headers = std::move(head.headers);
    c.request.peer = c.peer;
  }
  std::size_t have = c.in.size() - c.bodyStart;
  if (have < c.bodyLength) {
    auto expect = c.request.header("expect");
    if (!c.continueSent && expect && equalsIgnoreCase(*expect, "100-continue") && c.request.minorVersion >= 1) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      (void)::send(c.fd.get(), kContinue.data(), kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      c.continueSent = true;
    }
    return;
  }
  c.request.body = c.in.substr(c.bodyStart, c.bodyLength);
  if (options_.handlerThreads > 0) {
    dispatch(c);
    return;
  }
  respond(c, callHandler(c.request), c.request.method == "HEAD");
}

ServerResponse HttpServer::callHandler(const ServerRequest& request) {
  try {
    return handler_(request);
  } catch (...) {
    return ServerResponse::text(500, "internal error\n");
  }
}

void HttpServer::dispatch(Connection& c) {
  auto busy = [&] {
    ServerResponse r = ServerResponse::text(503, "busy\n");
    r.headers.push_back({"Retry-After", "1"});
    respond(c, r, c.request.method == "HEAD");
  };
  auto job = std::make_shared<Job>();
  job->request = std::move(c.request);
  {
    std::lock_guard lock(jobsMutex_);
    if (jobsRunning_ >= options_.handlerThreads) {
      c.request = std::move(job->request);
      return busy();
    }
    ++jobsRunning_;
  }
  c.state = Connection::State::Handling;
  c.job = job;
  c.in.clear();
  c.in.shrink_to_fit();
  try {
    std::thread([this, job] {
      ServerResponse response = callHandler(job->request);
      {
        std::lock_guard lock(jobsMutex_);
        job->response = std::move(response);
      }
      std::uint64_t one = 1;
      (void)!::write(jobsDone_.get(), &one, sizeof(one));
      // Last: once jobsRunning_ drops, the destructor may proceed; nothing of `this` is touched after it.
      std::lock_guard lock(jobsMutex_);
      --jobsRunning_;
      jobsIdle_.notify_all();
    }).detach();
  } catch (const std::system_error&) {  // no thread could be started
    {
      std::lock_guard lock(jobsMutex_);
      --jobsRunning_;
    }
    c.job.reset();
    c.request = std::move(job->request);
    busy();
  }
}

void HttpServer::collectFinishedJobs() {
  std::uint64_t count = 0;
  (void)!::read(jobsDone_.get(), &count, sizeof(count));
  for (auto& c : connections_) {
    if (c.state != Connection::State::Handling || closed(c)) continue;
    std::optional<ServerResponse> response;
    {
      std::lock_guard lock(jobsMutex_);
      if (!c.job->response) continue;
      response = std::move(c.job->response);
    }
    bool head = c.job->request.method == "HEAD";
    c.job.reset();
    c.deadline = SteadyClock::now() + options_.connectionTimeout;  // the handler's time did not count
    respond(c, *response, head);
  }
}

void HttpServer::respond(Connection& c, const ServerResponse& response, bool headRequest) {
  c.out = serializeResponse(response, headRequest && c.headParsed);
  c.written = 0;
  c.state = Connection::State::Writing;
  onWritable(c);
}

void HttpServer::onWritable(Connection& c) {
  while (c.written < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      c.fd.reset();
      return;
    }
    c.written += static_cast<std::size_t>(n);
  }
  // All written: half-close, then discard what the client still sends until it closes (or a short while passes).
  ::shutdown(c.fd.get(), SHUT_WR);
  c.state = Connection::State::Draining;
  c.in.clear();
  c.in.shrink_to_fit();
  auto drainUntil = SteadyClock::now() + kDrainTime;
  if (drainUntil < c.deadline) c.deadline = drainUntil;
}

}  // namespace mv::net
