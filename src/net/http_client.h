#pragma once
// One HTTP/1.1 request over one plain TCP connection to an IP literal, bounded as a whole:
// - a single deadline covers connect, send and the whole reply (not an inactivity timeout);
// - the reply (head and body, as received on the wire) may hold at most maxReplyBytes, else TooLarge;
// - redirects are never followed: a 3xx is returned like any other status;
// - no name is resolved: a host that is not an IPv4/IPv6 literal is InvalidAddress, with no socket opened;
// - the request is sent with `Connection: close`; the reply body may use Content-Length, chunked coding or end at EOF;
//   1xx interim replies are skipped;
// - cancelFd, when >= 0, aborts a blocked call (Cancelled) as soon as it becomes readable.
// Never throws for network or peer behaviour.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "net/http_message.h"

namespace mv::net {

struct ClientRequest {
  std::string ip;  // IPv4 or IPv6 literal, without brackets
  int port = 0;    // 1..65535
  std::string method = "GET";  // a token
  std::string target = "/";    // origin-form, no spaces or control characters
  HeaderList headers;          // extra headers (Host, Connection and Content-Length are set by the client)
  std::string body;
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};
  std::size_t maxReplyBytes = 64 * 1024;
  int cancelFd = -1;
};

struct ClientReply {
  int status = 0;
  std::string reason;
  HeaderList headers;
  std::string body;  // decoded; may be partial when the call ended with an error after the head
  std::optional<std::string_view> header(std::string_view name) const { return findHeader(headers, name); }
};

struct ClientResult {
  enum class Error {
    None,
    InvalidRequest,  // a method, target, header or port that cannot be sent as is
    InvalidAddress,  // not an IP literal
    ConnectFailed,   // sysError: ECONNREFUSED, ENETUNREACH, ...
    Timeout,
    Cancelled,
    Closed,   // the peer closed before a complete reply
    IoError,  // sysError: ECONNRESET, ...
    NotHttp,
    TooLarge,
  };
  Error error = Error::None;
  int sysError = 0;
  // True once a complete, valid status line and headers arrived: `reply` then holds them, even when the body was
  // cut short by Timeout, Closed or IoError.
  bool headComplete = false;
  ClientReply reply;
  std::chrono::milliseconds timeout{0};  // the request's, for describe()

  bool ok() const { return error == Error::None; }
  // Short words for a failure: "connection refused", "timeout after 5s", "reply is not HTTP", "reply too large",
  // "connection closed without a reply", "not an IP literal". Never holds request data.
  std::string describe() const;
};

ClientResult httpCall(const ClientRequest& request);

// "5s", "1.5s", "250ms".
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace mv::net
