#pragma once
// Named health or readiness checks and the answers controller-runtime's healthz handler gives for them.
//
// Contract of the answers (the same for /healthz and /readyz):
// - GET <root>: runs every check, except those named by ?exclude=<name> (repeatable). All pass: 200 "ok", or with
//   ?verbose one line per check ("[+]name ok", "[+]name excluded: ok") followed by "healthz check passed". Any
//   fails: 500 with every check's line ("[-]name failed: reason withheld") and "healthz check failed". The reason a
//   check gives is logged, never served: the endpoint is unauthenticated.
// - GET <root>/<name>: that check alone: 200 "ok", or 500 "internal server error: <reason>". Unknown name: 404.
// - With no check added, a "ping" check that always passes answers, as controller-runtime installs.
// - Thread-safe: checks may be added while the server runs. A check runs on the server's thread and must be quick.

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mv::runtime::health {

// Returns nullopt when healthy, or why not.
using Check = std::function<std::optional<std::string>()>;

struct Response {
  int status = 200;
  std::string body;
};

class Checks {
 public:
  // Throws std::invalid_argument for an empty name, a name with '/', or one added twice.
  void add(std::string name, Check check);
  // Answers the request for `subpath` ("" for the root, else the check's name) with the raw query string.
  Response answer(std::string_view subpath, std::string_view query) const;

 private:
  std::vector<std::pair<std::string, Check>> snapshot() const;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, Check>> checks_;
};

}  // namespace mv::runtime::health
