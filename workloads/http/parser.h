#pragma once
// The HTTP/1.1 request parser for a connection's receive buffer, as the workloads' handlers see requests: the
// project's one parser (src/net/http_request_parser.h, RFC 9112) adapted to Request. It accepts Content-Length and
// chunked bodies, and refuses what could be smuggled or is too large: both Content-Length and Transfer-Encoding,
// differing Content-Lengths, obsolete line folding, a transfer coding other than chunked.

#include <cstddef>
#include <string>
#include <string_view>

#include "http/message.h"

namespace mv::workloads::http {

struct Limits {
  size_t maxHeaderBytes = 16 * 1024;  // request line + headers
  size_t maxTargetBytes = 8 * 1024;
  size_t maxBodyBytes = 1024 * 1024;
};

struct ParseResult {
  enum class Status { Incomplete, Complete, Error };
  Status status = Status::Incomplete;
  size_t consumed = 0;     // Complete: bytes of `buf` the request took (the next request starts there)
  int errorStatus = 0;     // Error: the status to answer with (400, 413, 414, 431, 501, 505)
  std::string error;       // Error: why
};

// Parses the request at the start of `buf`. Incomplete means "read more and call again with the longer buffer";
// `out` is meaningful only on Complete (its `peer` is left untouched).
ParseResult parseRequest(std::string_view buf, Request& out, const Limits& limits = {});

// True when `buf` holds a complete header section that carries "Expect: 100-continue" (the client then waits for
// an interim 100 before it sends the body).
bool expectsContinue(std::string_view buf);

}  // namespace mv::workloads::http
