#include "http/parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace mv::workloads::http {
namespace {

using Status = ParseResult::Status;

ParseResult fail(int status, std::string why) { return {Status::Error, 0, status, std::move(why)}; }

bool isTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Decodes a chunked body starting at buf[pos]. Returns Complete with `consumed` = the end of the trailers.
ParseResult dechunk(std::string_view buf, size_t pos, const Limits& limits, std::string& body) {
  body.clear();
  while (true) {
    const auto eol = buf.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      if (buf.size() - pos > 1024) return fail(400, "chunk size line too long");
      return {};
    }
    auto sizeText = buf.substr(pos, eol - pos);
    sizeText = trimOws(sizeText.substr(0, sizeText.find(';')));
    size_t size = 0;
    const auto [end, ec] = std::from_chars(sizeText.data(), sizeText.data() + sizeText.size(), size, 16);
    if (sizeText.empty() || ec != std::errc() || end != sizeText.data() + sizeText.size()) {
      return fail(400, "malformed chunk size");
    }
    if (size > limits.maxBodyBytes || body.size() + size > limits.maxBodyBytes) return fail(413, "body too large");
    pos = eol + 2;
    if (size == 0) {
      // Trailer fields, then an empty line. Trailers are read and ignored.
      while (true) {
        const auto tEol = buf.find("\r\n", pos);
        if (tEol == std::string_view::npos) {
          if (buf.size() - pos > limits.maxHeaderBytes) return fail(431, "trailers too large");
          return {};
        }
        if (tEol == pos) return {Status::Complete, tEol + 2, 0, {}};
        pos = tEol + 2;
      }
    }
    if (buf.size() < pos + size + 2) return {};
    if (buf.substr(pos + size, 2) != "\r\n") return fail(400, "chunk not followed by CRLF");
    body.append(buf.substr(pos, size));
    pos += size + 2;
  }
}

}  // namespace

ParseResult parseRequest(std::string_view buf, Request& out, const Limits& limits) {
  // Tolerate empty lines before the request line (RFC 9112 §2.2).
  size_t start = 0;
  while (buf.substr(start, 2) == "\r\n") start += 2;
  const auto headEnd = buf.find("\r\n\r\n", start);
  if (headEnd == std::string_view::npos) {
    if (buf.size() - start > limits.maxHeaderBytes) return fail(431, "request header section too large");
    return {};
  }
  if (headEnd - start > limits.maxHeaderBytes) return fail(431, "request header section too large");

  const auto head = buf.substr(start, headEnd - start);
  const auto lineEnd = std::min(head.find("\r\n"), head.size());
  const auto line = head.substr(0, lineEnd);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "malformed request line");
  }
  Request req;
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  const auto version = line.substr(sp2 + 1);
  if (req.method.empty() || !std::all_of(req.method.begin(), req.method.end(), isTokenChar)) {
    return fail(400, "malformed method");
  }
  if (version == "HTTP/1.1") {
    req.minorVersion = 1;
  } else if (version == "HTTP/1.0") {
    req.minorVersion = 0;
  } else if (version.substr(0, 5) == "HTTP/") {
    return fail(505, "unsupported HTTP version");
  } else {
    return fail(400, "malformed HTTP version");
  }
  if (req.target.size() > limits.maxTargetBytes) return fail(414, "request target too long");
  if (req.target.empty() || req.target.front() != '/') return fail(400, "request target must be a path");
  for (unsigned char c : req.target) {
    if (c <= 0x20 || c == 0x7f) return fail(400, "control character in request target");
  }
  const auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);

  std::string_view rest = lineEnd < head.size() ? head.substr(lineEnd + 2) : std::string_view{};
  while (!rest.empty()) {
    const auto eol = std::min(rest.find("\r\n"), rest.size());
    const auto field = rest.substr(0, eol);
    rest = eol < rest.size() ? rest.substr(eol + 2) : std::string_view{};
    if (field.front() == ' ' || field.front() == '\t') return fail(400, "obsolete line folding");
    const auto colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(400, "malformed header field");
    const auto name = field.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), isTokenChar)) return fail(400, "malformed header name");
    const auto value = trimOws(field.substr(colon + 1));
    for (unsigned char c : value) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) return fail(400, "control character in header value");
    }
    req.headers.emplace_back(lower(name), std::string(value));
  }

  std::optional<size_t> contentLength;
  bool chunked = false;
  for (const auto& [name, value] : req.headers) {
    if (name == "content-length") {
      size_t n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
        return fail(400, "malformed Content-Length");
      }
      if (contentLength && *contentLength != n) return fail(400, "conflicting Content-Length");
      contentLength = n;
    } else if (name == "transfer-encoding") {
      if (chunked) return fail(400, "chunked applied twice");
      if (lower(value) != "chunked") return fail(501, "unsupported transfer coding");
      chunked = true;
    }
  }
  if (chunked && contentLength) return fail(400, "both Content-Length and Transfer-Encoding");

  const size_t bodyStart = headEnd + 4;
  ParseResult done{Status::Complete, bodyStart, 0, {}};
  if (chunked) {
    done = dechunk(buf, bodyStart, limits, req.body);
    if (done.status != Status::Complete) return done;
  } else if (contentLength) {
    if (*contentLength > limits.maxBodyBytes) return fail(413, "body too large");
    if (buf.size() < bodyStart + *contentLength) return {};
    req.body = std::string(buf.substr(bodyStart, *contentLength));
    done.consumed = bodyStart + *contentLength;
  }
  req.peer = out.peer;
  out = std::move(req);
  return done;
}

bool expectsContinue(std::string_view buf) {
  const auto headEnd = buf.find("\r\n\r\n");
  if (headEnd == std::string_view::npos) return false;
  const std::string head = lower(buf.substr(0, headEnd + 2));
  for (size_t pos = head.find("\r\nexpect:"); pos != std::string::npos; pos = head.find("\r\nexpect:", pos + 1)) {
    const auto eol = head.find("\r\n", pos + 2);
    if (trimOws(std::string_view(head).substr(pos + 9, eol - pos - 9)) == "100-continue") return true;
  }
  return false;
}

}  // namespace mv::workloads::http
