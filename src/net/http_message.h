#pragma once
// HTTP/1.1 message heads (RFC 9112), parsed strictly enough that garbage is refused and nothing can be smuggled:
// header names must be tokens, values must not hold control characters, obsolete line folding is refused, and a
// conflicting or malformed Content-Length is an error. Lines may end in CRLF or a bare LF.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mv::net {

struct Header {
  std::string name;   // as received
  std::string value;  // with surrounding whitespace removed
};
using HeaderList = std::vector<Header>;

// The first header named `name` (case-insensitive), if any.
std::optional<std::string_view> findHeader(const HeaderList& headers, std::string_view name);

// The offset just past the blank line that ends a head in `buffer`, or npos when the head is not complete yet.
std::size_t findHeadEnd(std::string_view buffer);

struct RequestHead {
  std::string method;
  std::string target;  // origin-form: "/path?query"
  int minorVersion = 1;  // HTTP/1.<minor>
  HeaderList headers;
};

struct ResponseHead {
  int status = 0;  // 100..599
  std::string reason;
  int minorVersion = 1;
  HeaderList headers;
};

// Parse a complete head (as delimited by findHeadEnd). false when it is not valid HTTP/1.x; for requests `error`
// then names the problem. Requests must use origin-form targets ("/..."); empty lines before the request line are
// skipped.
bool parseRequestHead(std::string_view head, RequestHead& out, std::string& error);
bool parseResponseHead(std::string_view head, ResponseHead& out);

// Content-Length: nullopt when absent; -1 when malformed or when several values disagree.
std::optional<long long> contentLength(const HeaderList& headers);

// True when the last Transfer-Encoding coding is "chunked".
bool isChunked(const HeaderList& headers);

enum class ChunkedStatus { Incomplete, Complete, Invalid, TooLarge };
// Decodes the chunked body at the start of `data` (chunk extensions and trailers are skipped) into `out`. On
// Complete, `consumed` (when given) is set to the bytes the body took, trailers and the final blank line included:
// what follows is the next message. TooLarge as soon as the decoded body would exceed `maxBody`.
ChunkedStatus decodeChunked(std::string_view data, std::string& out, std::size_t* consumed = nullptr,
                            std::size_t maxBody = std::string_view::npos);

// "Retry-After" in delta-seconds ("120"); nullopt when absent or not delta-seconds (an HTTP-date is not honoured).
std::optional<long long> retryAfterSeconds(const HeaderList& headers);

// The RFC 9110 reason phrase of a status ("Not Found"), or "" for codes without one.
std::string_view standardReason(int status);

bool isToken(std::string_view text);
// True when `text` holds no CR, LF, NUL or other control character except horizontal tab.
bool isFieldValue(std::string_view text);
bool equalsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace mv::net
