#include "runtime/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <prometheus/exposer.h>

#include "runtime/metrics/registry.h"

namespace mv::runtime::metrics {

namespace {

// Connects to the server and closes at once: wakes civetweb's listener, which otherwise notices a stop request only
// at its next 2 s poll timeout.
void poke(in_addr_t address, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = address;
  ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::close(fd);
}

}  // namespace

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
  in_addr numeric{};
  const bool isNumeric = ::inet_pton(AF_INET, host.c_str(), &numeric) == 1 && numeric.s_addr != htonl(INADDR_ANY);
  pokeAddress_ = isNumeric ? numeric.s_addr : htonl(INADDR_LOOPBACK);
}

MetricsServer::~MetricsServer() {
  // Stopping civetweb waits for its listener thread; poke the port until it has gone so that this takes
  // milliseconds, not the listener's 2 s poll timeout.
  std::atomic<bool> stopped{false};
  std::thread poker([&] {
    while (!stopped.load()) {
      poke(pokeAddress_, port_);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  exposer_.reset();
  stopped = true;
  poker.join();
}

}  // namespace mv::runtime::metrics
