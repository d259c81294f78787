// medivote-static-server: the reference simple MediVote service (like the frontend). It serves a directory, answers
// GET /health, keeps no state, and exits 0 promptly on SIGTERM or SIGINT.

#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>

#include "http/server.h"
#include "net/address.h"
#include "process/flags.h"
#include "process/signals.h"
#include "static_files.h"

namespace http = mv::workloads::http;
namespace net = mv::workloads::net;

int main(int argc, char** argv) {
  const char* podIp = std::getenv("POD_IP");
  const auto defaultHost = net::Address::parse(podIp ? podIp : "").value_or(*net::Address::parse("127.0.0.1"));
  net::Endpoint listen{defaultHost, 8080};
  std::string root = std::getenv("STATIC_ROOT") ? std::getenv("STATIC_ROOT") : ".";

  mv::workloads::process::Flags flags("medivote-static-server",
                                      "The reference simple MediVote service: serves a directory; exits on SIGTERM.");
  flags.addCustom(
      "listen",
      [&](const std::string& v) {
        auto ep = net::Endpoint::parse(v, defaultHost);
        if (!ep) return "--listen: expected HOST:PORT, [IPV6]:PORT or :PORT, got " + v;
        listen = *ep;
        return std::string();
      },
      "address to listen on (default $POD_IP:8080, else 127.0.0.1:8080; port 0 picks a free port)", "HOST:PORT");
  flags.addString("root", &root, "directory to serve ($STATIC_ROOT)");
  if (auto code = flags.parse(argc, argv)) return *code;

  std::mutex mu;
  std::condition_variable cv;
  int received = 0;
  mv::workloads::process::SignalWatcher signals([&](int signo) {
    std::cerr << "static-server: " << mv::workloads::process::signalName(signo) << ", exiting" << std::endl;
    std::lock_guard<std::mutex> g(mu);
    received = signo;
    cv.notify_all();
  });

  mv::workloads::statics::StaticFiles files(root);
  http::Server::Options options;
  options.serverName = "medivote-static-server";
  http::Server server([&](const http::Request& r) { return files.handle(r); }, options);
  try {
    const auto bound = server.listen(listen);
    server.start();
    std::cerr << "static-server: serving " << root << std::endl;
    std::cout << "listening on http://" << bound.str() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "static-server: " << e.what() << std::endl;
    return 1;
  }

  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return received != 0; });
  }
  // No state: close idle connections at once and give busy ones a moment to finish their answer.
  server.stop(std::chrono::milliseconds(500));
  std::cout.flush();
  _exit(0);
}
