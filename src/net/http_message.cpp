#include "net/http_message.h"

#include <charconv>

namespace mv::net {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits `head` into lines (without their CRLF/LF). A CR anywhere but before LF makes the head invalid.
bool splitLines(std::string_view head, std::vector<std::string_view>& lines) {
  while (!head.empty()) {
    auto nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return false;
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    head.remove_prefix(nl + 1);
  }
  return true;
}

bool parseHeaders(const std::vector<std::string_view>& lines, std::size_t first, HeaderList& out) {
  for (std::size_t i = first; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.empty()) break;  // the blank line that ends the head
    if (line.front() == ' ' || line.front() == '\t') return false;  // obsolete line folding
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (!isToken(name) || !isFieldValue(value)) return false;
    out.push_back({std::string(name), std::string(value)});
  }
  return true;
}

bool parseVersion(std::string_view text, int& minor) {
  if (text.size() != 8 || text.substr(0, 7) != "HTTP/1.") return false;
  if (text[7] < '0' || text[7] > '9') return false;
  minor = text[7] - '0';
  return true;
}

bool parseDigits(std::string_view text, long long& value) {
  if (text.empty() || text.size() > 18) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && value >= 0;
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool isToken(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool isFieldValue(std::string_view text) {
  for (unsigned char c : text)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

std::optional<std::string_view> findHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& h : headers)
    if (equalsIgnoreCase(h.name, name)) return std::string_view(h.value);
  return std::nullopt;
}

std::size_t findHeadEnd(std::string_view buffer) {
  for (std::size_t i = buffer.find('\n'); i != std::string_view::npos; i = buffer.find('\n', i + 1)) {
    if (i + 1 < buffer.size() && buffer[i + 1] == '\n') return i + 2;
    if (i + 2 < buffer.size() && buffer[i + 1] == '\r' && buffer[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

bool parseRequestHead(std::string_view head, RequestHead& out, std::string& error) {
  while (head.starts_with("\r\n") || head.starts_with("\n")) head.remove_prefix(head[0] == '\r' ? 2 : 1);
  std::vector<std::string_view> lines;
  if (!splitLines(head, lines) || lines.empty()) {
    error = "malformed head";
    return false;
  }
  std::string_view line = lines[0];
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    error = "malformed request line";
    return false;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!isToken(method)) {
    error = "malformed method";
    return false;
  }
  if (target.empty() || target.front() != '/') {
    error = "target is not origin-form";
    return false;
  }
  for (unsigned char c : target)
    if (c <= 0x20 || c >= 0x7f) {
      error = "malformed target";
      return false;
    }
  if (!parseVersion(line.substr(sp2 + 1), out.minorVersion)) {
    error = "unsupported HTTP version";
    return false;
  }
  out.method = method;
  out.target = target;
  if (!parseHeaders(lines, 1, out.headers)) {
    error = "malformed header";
    return false;
  }
  return true;
}

bool parseResponseHead(std::string_view head, ResponseHead& out) {
  std::vector<std::string_view> lines;
  if (!splitLines(head, lines) || lines.empty()) return false;
  std::string_view line = lines[0];
  if (line.size() < 12 || line[8] != ' ' || !parseVersion(line.substr(0, 8), out.minorVersion)) return false;
  std::string_view code = line.substr(9, 3);
  for (char c : code)
    if (c < '0' || c > '9') return false;
  out.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  if (out.status < 100 || out.status > 599) return false;
  if (line.size() > 12) {
    if (line[12] != ' ') return false;
    std::string_view reason = line.substr(13);
    if (!isFieldValue(reason)) return false;
    out.reason = trim(reason);
  }
  return parseHeaders(lines, 1, out.headers);
}

std::optional<long long> contentLength(const HeaderList& headers) {
  std::optional<long long> found;
  for (const auto& h : headers) {
    if (!equalsIgnoreCase(h.name, "content-length")) continue;
    long long v = 0;
    if (!parseDigits(h.value, v)) return -1;
    if (found && *found != v) return -1;
    found = v;
  }
  return found;
}

bool isChunked(const HeaderList& headers) {
  std::string_view last;
  for (const auto& h : headers) {
    if (!equalsIgnoreCase(h.name, "transfer-encoding")) continue;
    std::string_view v = h.value;
    auto comma = v.rfind(',');
    last = trim(comma == std::string_view::npos ? v : v.substr(comma + 1));
  }
  return equalsIgnoreCase(last, "chunked");
}

ChunkedStatus decodeChunked(std::string_view data, std::string& out, std::size_t* consumed, std::size_t maxBody) {
  out.clear();
  const std::size_t total = data.size();
  for (;;) {
    auto nl = data.find('\n');
    if (nl == std::string_view::npos) return data.size() > 1024 ? ChunkedStatus::Invalid : ChunkedStatus::Incomplete;
    std::string_view sizeLine = data.substr(0, nl);
    if (!sizeLine.empty() && sizeLine.back() == '\r') sizeLine.remove_suffix(1);
    sizeLine = sizeLine.substr(0, sizeLine.find(';'));  // chunk extensions are ignored
    sizeLine = trim(sizeLine);
    unsigned long long size = 0;
    auto [end, ec] = std::from_chars(sizeLine.data(), sizeLine.data() + sizeLine.size(), size, 16);
    if (sizeLine.empty() || sizeLine.size() > 15 || ec != std::errc() || end != sizeLine.data() + sizeLine.size())
      return ChunkedStatus::Invalid;
    data.remove_prefix(nl + 1);
    if (size == 0) {
      // Trailer fields, then the blank line that ends the message.
      for (;;) {
        auto tnl = data.find('\n');
        if (tnl == std::string_view::npos) return ChunkedStatus::Incomplete;
        std::string_view t = data.substr(0, tnl);
        data.remove_prefix(tnl + 1);
        if (t.empty() || t == "\r") {
          if (consumed) *consumed = total - data.size();
          return ChunkedStatus::Complete;
        }
      }
    }
    if (size > maxBody || out.size() + size > maxBody) return ChunkedStatus::TooLarge;
    if (data.size() < size) return ChunkedStatus::Incomplete;
    out.append(data.substr(0, size));
    data.remove_prefix(size);
    if (data.starts_with("\r\n")) data.remove_prefix(2);
    else if (data.starts_with("\n")) data.remove_prefix(1);
    else if (data.empty() || data == "\r") return ChunkedStatus::Incomplete;
    else return ChunkedStatus::Invalid;
  }
}

std::optional<long long> retryAfterSeconds(const HeaderList& headers) {
  auto v = findHeader(headers, "retry-after");
  long long seconds = 0;
  if (!v || !parseDigits(*v, seconds)) return std::nullopt;
  return seconds;
}

std::string_view standardReason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 423: return "Locked";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

}  // namespace mv::net
