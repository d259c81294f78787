#pragma once
// The probe server: /healthz (is the process alive) and /readyz (is it ready: caches synced, ...) over plain HTTP/1.1
// on one address, answered from two Checks (see checks.h for the answers).
//
// Contract:
// - The constructor binds and listens, or throws std::runtime_error naming the address and the reason (port in use,
//   unknown host, IPv6 host). Port 0 picks a free port; port() reports the one bound.
// - One thread serves requests one at a time, with Connection: close. A client that sends no complete request
//   within 2 s is dropped. Only GET and HEAD are served (405 otherwise); unknown paths give 404.
// - The destructor stops serving and joins the thread. The Checks must outlive the server.

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "runtime/health/checks.h"

namespace mv::runtime::health {

class ProbeServer {
 public:
  ProbeServer(const std::string& host, std::uint16_t port, const Checks& healthz, const Checks& readyz);
  ~ProbeServer();
  ProbeServer(const ProbeServer&) = delete;
  ProbeServer& operator=(const ProbeServer&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  void serve();
  void handle(int fd);
  Response route(const std::string& method, const std::string& target) const;

  const Checks& healthz_;
  const Checks& readyz_;
  int listenFd_ = -1;
  int wakeFd_ = -1;  // eventfd: written by the destructor to end serve()
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// Resolves an IPv4 host ("" or "0.0.0.0" for every interface, a dotted quad, or a name such as "localhost") to a
// network-order address; throws std::runtime_error otherwise. Shared with nothing else on purpose: the metrics server
// lets civetweb resolve its own.
std::uint32_t resolveIpv4(const std::string& host);

}  // namespace mv::runtime::health
