#pragma once
// Serves a Registry on http://host:port/metrics (prometheus-cpp's Exposer, civetweb underneath).
//
// Contract:
// - The constructor binds and starts serving, or throws std::runtime_error naming the address when it cannot (port in
//   use, bad host). IPv4 only: civetweb as packaged cannot bind IPv6 addresses.
// - Port 0 picks a free port; port() reports the one bound.
// - Serving stops when the object is destroyed. The Registry must outlive it.

#include <cstdint>
#include <memory>
#include <string>

namespace prometheus {
class Exposer;
}

namespace mv::runtime::metrics {

class Registry;

class MetricsServer {
 public:
  MetricsServer(Registry& registry, const std::string& host, std::uint16_t port);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::uint16_t port_ = 0;
  std::uint32_t pokeAddress_ = 0;  // network order
};

}  // namespace mv::runtime::metrics
