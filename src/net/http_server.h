#pragma once
// A small single-threaded HTTP/1.1 server for tiny daemons (the in-pod agent, test services).
//
// Contract:
// - The constructor binds `address` (an IP literal and a port, 0 for any free port), listens, or throws
//   std::system_error naming the address. localAddress() reports the bound address.
// - Nothing runs on its own: the owner calls serveOnce() in a loop. Each call waits (poll) for at most maxWait for
//   network activity, accepts, reads, answers and expires connections, then returns. It returns true as soon as
//   `interruptFd` (if >= 0) is readable, e.g. a signalfd or a pipe written by another thread; it never reads it.
// - One request per connection: every response carries `Connection: close` and the connection is closed after it.
// - The handler runs on the caller's thread, once per complete request, and may block (the server then waits).
//   It must not throw; if it does, the client gets 500.
// - Bounded input: a head larger than maxHeadBytes gets 431; a body larger than maxBodyBytes gets 413; a body must
//   have a Content-Length (411 for Transfer-Encoding); a malformed request gets 400; a version other than HTTP/1.x
//   gets 505. `Expect: 100-continue` is answered with 100 before the body is read.
// - Every connection has one deadline (connectionTimeout) from accept to its last byte written: a client that sends
//   slowly or never reads (slowloris) is dropped then. At most maxConnections are open; accepting one more drops the
//   oldest.
// - After answering an error early, the server reads and discards the rest of the request for a short while before
//   closing, so that the client sees the response rather than a reset.

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <optional>
#include <string>

#include "net/address.h"
#include "net/fd.h"
#include "net/http_message.h"
#include "net/socket_io.h"

namespace mv::net {

struct ServerRequest {
  std::string method;
  std::string target;  // as sent: "/path?query"
  std::string path;    // the target without its query
  int minorVersion = 1;
  HeaderList headers;
  std::string body;
  SocketAddress peer;  // the TCP peer
  std::optional<std::string_view> header(std::string_view name) const { return findHeader(headers, name); }
};

struct ServerResponse {
  int status = 200;
  std::string reason;  // standardReason(status) when empty
  HeaderList headers;  // Content-Length and Connection are added by the server
  std::string body;

  static ServerResponse text(int status, std::string body);  // text/plain; charset=utf-8
  static ServerResponse json(int status, std::string body);  // application/json
};

struct ServerOptions {
  std::size_t maxHeadBytes = 8 * 1024;
  std::size_t maxBodyBytes = 16 * 1024;
  std::chrono::milliseconds connectionTimeout{std::chrono::seconds(5)};
  std::size_t maxConnections = 32;
  int backlog = 64;
};

// The bytes of a complete response with Connection: close (no body for HEAD requests).
std::string serializeResponse(const ServerResponse& response, bool headRequest);

class HttpServer {
 public:
  using Handler = std::function<ServerResponse(const ServerRequest&)>;

  HttpServer(const SocketAddress& address, Handler handler, ServerOptions options = {});
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  const SocketAddress& localAddress() const { return local_; }
  std::size_t openConnections() const { return connections_.size(); }

  bool serveOnce(std::chrono::milliseconds maxWait, int interruptFd = -1);

 private:
  struct Connection {
    enum class State { Reading, Writing, Draining };
    Fd fd;
    SocketAddress peer;
    SteadyClock::time_point deadline;
    State state = State::Reading;
    std::string in;
    std::string out;
    std::size_t written = 0;
    bool headParsed = false;
    bool continueSent = false;
    std::size_t bodyStart = 0;
    std::size_t bodyLength = 0;
    ServerRequest request;
  };

  void acceptAll();
  void onReadable(Connection& c);
  void onWritable(Connection& c);
  void advance(Connection& c);  // parses what was read; queues a response when there is one to send
  void respond(Connection& c, const ServerResponse& response, bool headRequest);
  bool closed(const Connection& c) const { return !c.fd.valid(); }

  Fd listen_;
  SocketAddress local_;
  Handler handler_;
  ServerOptions options_;
  std::list<Connection> connections_;  // in accept order: the front is the oldest
};

}  // namespace mv::net
