#pragma once
// What a shutdown endpoint's reply means for the stage machine.

#include <chrono>
#include <optional>
#include <string>

namespace mv::shutdown {

struct EndpointAnswer {
  enum class Kind {
    Accepted,      // 2xx: the shutdown is scheduled (not done: completion is the container's exit)
    Busy,          // 409, 423, 503: in a critical operation; retry until refusalTimeout
    RateLimited,   // 429: back off per Retry-After, same deadline
    Unauthorized,  // 401, 403: a misconfigured token or reach; escalate at once
    Rejected,      // any other 3xx/4xx (redirects are not followed): a misconfigured endpoint; escalate at once
    Unreachable,   // refused, timeout, 5xx, not HTTP: retry briefly, then escalate
  };
  Kind kind = Kind::Unreachable;
  int httpStatus = 0;  // 0 when no HTTP reply came
  std::optional<std::chrono::seconds> retryAfter;
  std::string detail;  // short, for the annotation and Events: "409 busy", "connection refused"; never a token
};

// Classifies an HTTP status (with its Retry-After, if any).
EndpointAnswer classifyHttpStatus(int status, std::optional<std::chrono::seconds> retryAfter, std::string detail);
// An answer for a call that got no HTTP reply.
EndpointAnswer unreachable(std::string detail);

}  // namespace mv::shutdown
