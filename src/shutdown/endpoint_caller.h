#pragma once
// Calls a pod's HTTP shutdown endpoint. The safety rules of the operator live here and in the caller of it:
// - the target is an IP literal (the pod's own IP, taken from its status) and a port declared in the pod;
// - the path was validated (api::isSafeEndpointPath); it is sent as is, never as an absolute URL;
// - no redirect is followed: a 3xx is an answer like any other;
// - the reply is read with a size limit and a deadline;
// - the bearer token is sent in the Authorization header only, and never appears in `detail`, logs or errors.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "shutdown/answer.h"

namespace mv::shutdown {

struct EndpointRequest {
  std::string ip;  // an IPv4 or IPv6 literal; anything else is refused without a connection
  int port = 0;
  std::string method = "POST";
  std::string path = "/shutdown";
  std::optional<std::string> bearerToken;
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};  // the whole call: connect, send, read
};

class EndpointCaller {
 public:
  virtual ~EndpointCaller() = default;
  // Makes one call and classifies its result. Never throws: a failure to connect, a timeout, a reply that is not
  // HTTP or is too large are all Unreachable answers with a short detail ("connection refused", "timeout after 5s",
  // "reply is not HTTP").
  virtual EndpointAnswer call(const EndpointRequest& request) = 0;
};

// The real caller: plain HTTP/1.1 over a POSIX socket, one connection per call, `Connection: close`.
std::unique_ptr<EndpointCaller> makeHttpEndpointCaller(std::size_t maxReplyBytes = 64 * 1024);

}  // namespace mv::shutdown
