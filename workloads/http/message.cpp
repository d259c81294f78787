#include "http/message.h"

#include <strings.h>

#include <cstring>

#include "net/http_message.h"

namespace mv::workloads::http {

std::optional<std::string_view> Request::header(std::string_view lowerName) const {
  for (const auto& [name, value] : headers) {
    if (name == lowerName) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string> Request::queryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    auto key = percentDecode(pair.substr(0, eq), true);
    if (!key || *key != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return percentDecode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

bool Request::keepAlive() const {
  const auto conn = header("connection");
  auto has = [&](const char* token) {
    if (!conn) return false;
    std::string_view v = *conn;
    while (!v.empty()) {
      const auto comma = v.find(',');
      auto item = v.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (item.size() == std::strlen(token) && strncasecmp(item.data(), token, item.size()) == 0) return true;
      v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    }
    return false;
  };
  if (minorVersion == 0) return has("keep-alive");
  return !has("close");
}

Response Response::text(int status, std::string body, std::string contentType) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", std::move(contentType));
  return r;
}

std::string_view reasonPhrase(int status) {
  const std::string_view standard = ::mv::net::standardReason(status);
  return standard.empty() ? "Unknown" : standard;
}

std::optional<std::string> percentDecode(std::string_view s, bool plusIsSpace) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (plusIsSpace && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace mv::workloads::http
