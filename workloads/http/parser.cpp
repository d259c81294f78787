#include "http/parser.h"

#include <algorithm>
#include <cctype>

#include "net/http_request_parser.h"

namespace mv::workloads::http {

// The grammar is the project's one HTTP/1.1 implementation (src/net/http_request_parser.h); this adapts its result
// to the workloads' Request: header names lower-cased, the target split into path and query.
ParseResult parseRequest(std::string_view buf, Request& out, const Limits& limits) {
  ::mv::net::ParsedRequest parsed;
  const auto r = ::mv::net::parseRequest(buf, parsed, {limits.maxHeaderBytes, limits.maxTargetBytes, limits.maxBodyBytes});
  switch (r.status) {
    case ::mv::net::RequestParse::Status::Incomplete: return {};
    case ::mv::net::RequestParse::Status::Error: return {ParseResult::Status::Error, 0, r.errorStatus, r.error};
    case ::mv::net::RequestParse::Status::Complete: break;
  }
  Request req;
  req.method = std::move(parsed.head.method);
  req.target = std::move(parsed.head.target);
  const auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  req.minorVersion = parsed.head.minorVersion;
  for (auto& h : parsed.head.headers) {
    std::transform(h.name.begin(), h.name.end(), h.name.begin(), [](unsigned char c) { return std::tolower(c); });
    req.headers.emplace_back(std::move(h.name), std::move(h.value));
  }
  req.body = std::move(parsed.body);
  req.peer = out.peer;
  out = std::move(req);
  return {ParseResult::Status::Complete, r.consumed, 0, {}};
}

bool expectsContinue(std::string_view buf) { return ::mv::net::expectsContinue(buf); }

}  // namespace mv::workloads::http
