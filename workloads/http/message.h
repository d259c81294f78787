#pragma once
// HTTP/1.1 requests and responses as the workloads' handlers see them.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/address.h"

namespace mv::workloads::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;   // as sent (methods are case-sensitive)
  std::string target;   // the raw request-target
  std::string path;     // target up to '?', percent-escapes NOT decoded
  std::string query;    // after '?', without it
  int minorVersion = 1; // HTTP/1.<minorVersion>
  Headers headers;      // names lower-cased, values trimmed, in arrival order
  std::string body;     // de-chunked
  net::Address peer;    // the TCP peer

  // The first header of that (lower-case) name.
  std::optional<std::string_view> header(std::string_view lowerName) const;
  // The first query parameter of that name, percent-decoded ('+' is a space).
  std::optional<std::string> queryParam(std::string_view name) const;
  // Whether the client asked to keep the connection open (HTTP/1.1 default; HTTP/1.0 needs keep-alive).
  bool keepAlive() const;
};

struct Response {
  int status = 200;
  Headers headers;  // Content-Length, Date, Server and Connection are added by the server
  std::string body;
  bool close = false;  // close the connection after this response

  static Response text(int status, std::string body, std::string contentType = "text/plain; charset=utf-8");
  static Response json(int status, std::string body) { return text(status, std::move(body), "application/json"); }
  Response& with(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

std::string_view reasonPhrase(int status);

// Decodes %XX escapes; `plusIsSpace` for query strings. nullopt on a malformed escape.
std::optional<std::string> percentDecode(std::string_view s, bool plusIsSpace);

}  // namespace mv::workloads::http
