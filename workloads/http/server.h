#pragma once
// A small threaded HTTP/1.1 server on plain sockets: one accept thread, one thread per connection (bounded),
// keep-alive, IPv4 and IPv6. Handlers run on the connection's thread and may block (a slow vote, a drain).
//
// Lifetime: listen() → start() → stop(). stop() returns once every connection ended or the grace ran out; the
// Server must then outlive any connection that is still running (the workloads exit the process right after).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "http/message.h"
#include "http/parser.h"
#include "net/address.h"

namespace mv::workloads::http {

class Server {
 public:
  using Handler = std::function<Response(const Request&)>;

  struct Options {
    int maxConnections = 512;                             // beyond it a new connection gets 503 and is closed
    std::chrono::milliseconds idleTimeout{30'000};        // a keep-alive connection idle this long is closed
    std::chrono::milliseconds ioTimeout{10'000};          // a request or response stalled this long is dropped
    Limits limits;
    std::string serverName = "medivote-workload";
  };

  Server(Handler handler, Options options);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  // Binds and listens. Throws std::system_error when the address cannot be bound. Returns the bound endpoint,
  // with the port the kernel chose when `ep.port` is 0.
  net::Endpoint listen(const net::Endpoint& ep);
  // Starts accepting connections.
  void start();
  // Stops accepting (the port closes at once), closes idle connections, and lets each busy one finish its current
  // request, answered with "Connection: close". Returns true when all connections ended within `grace`.
  bool stop(std::chrono::milliseconds grace);
  // Connections currently open.
  int connections() const;

 private:
  void acceptLoop();
  void serve(int fd, net::Address peer);
  bool sendAll(int fd, std::string_view data);
  std::string render(const Response& r, bool close) const;

  Handler handler_;
  Options options_;
  int listenFd_ = -1;
  int wakeRead_ = -1;   // readable once stop() ran: wakes every poll()
  int wakeWrite_ = -1;
  std::thread acceptThread_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable idle_;
  int open_ = 0;
};

}  // namespace mv::workloads::http
