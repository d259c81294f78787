#include "shutdown/answer.h"

namespace mv::shutdown {

EndpointAnswer classifyHttpStatus(int status, std::optional<std::chrono::seconds> retryAfter, std::string detail) {
  EndpointAnswer a;
  a.httpStatus = status;
  a.retryAfter = retryAfter;
  a.detail = std::move(detail);
  if (status >= 200 && status < 300) a.kind = EndpointAnswer::Kind::Accepted;
  else if (status == 409 || status == 423 || status == 503) a.kind = EndpointAnswer::Kind::Busy;
  else if (status == 429) a.kind = EndpointAnswer::Kind::RateLimited;
  else if (status == 401 || status == 403) a.kind = EndpointAnswer::Kind::Unauthorized;
  else if (status >= 300 && status < 500) a.kind = EndpointAnswer::Kind::Rejected;
  else a.kind = EndpointAnswer::Kind::Unreachable;
  return a;
}

EndpointAnswer unreachable(std::string detail) {
  EndpointAnswer a;
  a.kind = EndpointAnswer::Kind::Unreachable;
  a.detail = std::move(detail);
  return a;
}

}  // namespace mv::shutdown
