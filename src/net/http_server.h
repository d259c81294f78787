#pragma once
// A small HTTP/1.1 server for tiny daemons (the in-pod agent, test services): one poll loop for all I/O, and the
// handler either on that loop's thread or, with handlerThreads > 0, on a thread of its own per request.
//
// Contract:
// - The constructor binds `address` (an IP literal and a port, 0 for any free port), listens, or throws
//   std::system_error naming the address. localAddress() reports the bound address.
// - Nothing runs on its own: the owner calls serveOnce() in a loop. Each call waits (poll) for at most maxWait for
//   network activity, accepts, reads, answers and expires connections, then returns. It returns true as soon as
//   `interruptFd` (if >= 0) is readable, e.g. a signalfd or a pipe written by another thread; it never reads it.
// - One request per connection: every response carries `Connection: close` and the connection is closed after it.
// - The handler runs once per complete request. It must not throw; if it does, the client gets 500.
//   - handlerThreads == 0: on the caller's thread, inside serveOnce(); it may block (the server then waits).
//   - handlerThreads == N > 0: on a new thread, at most N at a time, so that a handler that blocks (holds a request)
//     delays no other connection. A complete request that finds N handlers running is answered 503 with
//     `Retry-After: 1` at once. The handler must then be safe to call concurrently, and the destructor waits for the
//     handlers still running (so each must end by itself: bound it).
// - Bounded input: a head larger than maxHeadBytes gets 431; a body larger than maxBodyBytes gets 413; a body must
//   have a Content-Length (411 for Transfer-Encoding); a malformed request gets 400; a version other than HTTP/1.x
//   gets 505. `Expect: 100-continue` is answered with 100 before the body is read.
// - Every connection has one deadline (connectionTimeout) from accept to its last byte written: a client that sends
//   slowly or never reads (slowloris) is dropped then. With handlerThreads > 0, the time a handler takes does not
//   count: the deadline covers reading the request, then starts again for writing the response.
// - At most maxConnections are open; accepting one more drops the oldest connection still reading its request. When
//   none is (every one is handled or answered), the new connection gets 503 and is closed instead: a request being
//   handled is never dropped to make room.
// - While a request is handled on its own thread its connection is not read; a client that goes away meanwhile is
//   noticed when the response is written (it is then dropped; the handler's work is not cancelled).
// - After answering an error early, the server reads and discards the rest of the request for a short while before
//   closing, so that the client sees the response rather than a reset.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
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
  std::size_t handlerThreads = 0;  // 0: handlers run inside serveOnce(); N: on their own threads, N at most
};

// The bytes of a complete response with Connection: close (no body for HEAD requests).
std::string serializeResponse(const ServerResponse& response, bool headRequest);

class HttpServer {
 public:
  using Handler = std::function<ServerResponse(const ServerRequest&)>;

  HttpServer(const SocketAddress& address, Handler handler, ServerOptions options = {});
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // waits for handlers still running on their threads

  const SocketAddress& localAddress() const { return local_; }
  std::size_t openConnections() const { return connections_.size(); }

  bool serveOnce(std::chrono::milliseconds maxWait, int interruptFd = -1);

 private:
  // A request handed to a handler thread; `response` is set by that thread (under jobsMutex_).
  struct Job {
    ServerRequest request;
    std::optional<ServerResponse> response;
  };

  struct Connection {
    enum class State { Reading, Handling, Writing, Draining };
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
    std::shared_ptr<Job> job;  // while Handling
  };

  void acceptAll();
  void dispatch(Connection& c);     // runs the handler on its own thread (handlerThreads > 0)
  void collectFinishedJobs();       // queues the responses of handlers that have returned
  ServerResponse callHandler(const ServerRequest& request);
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
  Fd jobsDone_;                        // eventfd: written by a handler thread when it has set its job's response
  std::mutex jobsMutex_;
  std::condition_variable jobsIdle_;
  std::size_t jobsRunning_ = 0;
};

}  // namespace mv::net
