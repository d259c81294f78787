#pragma once
// An incremental HTTP/1.1 request parser (RFC 9112) for the receive buffer of a keep-alive connection, on the
// grammar of http_message.h (the one HTTP/1.1 implementation of the project: the agent's server and client, and the
// reference workloads' keep-alive server, all parse with it). It accepts Content-Length and chunked bodies, and
// refuses what could be smuggled or is too large: both Content-Length and Transfer-Encoding, differing
// Content-Lengths, obsolete line folding, a transfer coding other than chunked, a target that is not origin-form.

#include <cstddef>
#include <string>
#include <string_view>

#include "net/http_message.h"

namespace mv::net {

struct RequestLimits {
  std::size_t maxHeaderBytes = 16 * 1024;  // request line + headers
  std::size_t maxTargetBytes = 8 * 1024;
  std::size_t maxBodyBytes = 1024 * 1024;
};

struct ParsedRequest {
  RequestHead head;  // header names as received
  std::string body;  // de-chunked
};

struct RequestParse {
  enum class Status { Incomplete, Complete, Error };
  Status status = Status::Incomplete;
  std::size_t consumed = 0;  // Complete: bytes of the buffer the request took (the next request starts there)
  int errorStatus = 0;       // Error: the status to answer with (400, 413, 414, 431, 501, 505)
  std::string error;         // Error: why
};

// Parses the request at the start of `buf`. Incomplete means "read more and call again with the longer buffer";
// `out` is meaningful only on Complete.
RequestParse parseRequest(std::string_view buf, ParsedRequest& out, const RequestLimits& limits = {});

// True when `buf` holds a complete head that carries "Expect: 100-continue" (the client then waits for an interim
// 100 before it sends the body).
bool expectsContinue(std::string_view buf);

}  // namespace mv::net
