#include "runtime/metrics/metrics_server.h"

#include <stdexcept>

#include <prometheus/exposer.h>

#include "runtime/metrics/registry.h"

namespace mv::runtime::metrics {

MetricsServer::MetricsServer(Registry& registry, const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) {
    throw std::runtime_error("metrics server: cannot bind \"" + host + "\": IPv6 addresses are not supported");
  }
  const std::string address = (host.empty() ? std::string("0.0.0.0") : host) + ":" + std::to_string(port);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    throw std::runtime_error("metrics server: cannot listen on " + address + ": " + e.what());
  }
  const auto ports = exposer_->GetListeningPorts();
  if (ports.empty()) throw std::runtime_error("metrics server: no listening port on " + address);
  port_ = static_cast<std::uint16_t>(ports.front());
  exposer_->RegisterCollectable(registry.collectable());
}

MetricsServer::~MetricsServer() = default;

}  // namespace mv::runtime::metrics
