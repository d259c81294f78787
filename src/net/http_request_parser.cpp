#include "net/http_request_parser.h"

namespace mv::net {
namespace {

using Status = RequestParse::Status;

RequestParse fail(int status, std::string why) { return {Status::Error, 0, status, std::move(why)}; }

// The bytes of blank lines before the request line, which a server ignores (RFC 9112 section 2.2).
std::size_t leadingBlankLines(std::string_view buf) {
  std::size_t start = 0;
  for (;;) {
    if (buf.substr(start, 2) == "\r\n") start += 2;
    else if (buf.substr(start, 1) == "\n") start += 1;
    else return start;
  }
}

// The third word of the request line: why a head was refused decides between 400 and 505.
std::string_view versionOf(std::string_view head) {
  const std::string_view line = head.substr(0, head.find('\n'));
  const auto sp = line.rfind(' ');
  std::string_view v = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
  return v;
}

}  // namespace

RequestParse parseRequest(std::string_view buf, ParsedRequest& out, const RequestLimits& limits) {
  const std::size_t start = leadingBlankLines(buf);
  const std::string_view rest = buf.substr(start);
  const std::size_t headEnd = findHeadEnd(rest);
  if (headEnd == std::string_view::npos) {
    if (rest.size() > limits.maxHeaderBytes) return fail(431, "request header section too large");
    return {};
  }
  if (headEnd > limits.maxHeaderBytes) return fail(431, "request header section too large");
  const std::string_view head = rest.substr(0, headEnd);

  ParsedRequest req;
  std::string error;
  if (!parseRequestHead(head, req.head, error)) {
    const std::string_view version = versionOf(head);
    if (error == "unsupported HTTP version" && version.starts_with("HTTP/")) return fail(505, error);
    return fail(400, error);
  }
  if (req.head.target.size() > limits.maxTargetBytes) return fail(414, "request target too long");

  const auto length = contentLength(req.head.headers);
  if (length && *length < 0) return fail(400, "malformed or conflicting Content-Length");
  int codings = 0;
  for (const auto& h : req.head.headers) {
    if (!equalsIgnoreCase(h.name, "transfer-encoding")) continue;
    if (++codings > 1 || !equalsIgnoreCase(h.value, "chunked")) return fail(codings > 1 ? 400 : 501, "unsupported transfer coding");
  }
  const bool chunked = codings == 1;
  if (chunked && length) return fail(400, "both Content-Length and Transfer-Encoding");

  const std::size_t bodyStart = start + headEnd;
  RequestParse done{Status::Complete, bodyStart, 0, {}};
  if (chunked) {
    std::size_t used = 0;
    switch (decodeChunked(buf.substr(bodyStart), req.body, &used, limits.maxBodyBytes)) {
      case ChunkedStatus::Incomplete: return {};
      case ChunkedStatus::Invalid: return fail(400, "malformed chunked body");
      case ChunkedStatus::TooLarge: return fail(413, "body too large");
      case ChunkedStatus::Complete: done.consumed = bodyStart + used; break;
    }
  } else if (length) {
    const auto n = static_cast<std::size_t>(*length);
    if (n > limits.maxBodyBytes) return fail(413, "body too large");
    if (buf.size() < bodyStart + n) return {};
    req.body = std::string(buf.substr(bodyStart, n));
    done.consumed = bodyStart + n;
  }
  out = std::move(req);
  return done;
}

bool expectsContinue(std::string_view buf) {
  const std::string_view rest = buf.substr(leadingBlankLines(buf));
  const std::size_t headEnd = findHeadEnd(rest);
  if (headEnd == std::string_view::npos) return false;
  RequestHead head;
  std::string error;
  if (!parseRequestHead(rest.substr(0, headEnd), head, error)) return false;
  const auto expect = findHeader(head.headers, "expect");
  return expect && equalsIgnoreCase(*expect, "100-continue");
}

}  // namespace mv::net
