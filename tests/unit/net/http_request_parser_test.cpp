// The one HTTP/1.1 request parser (the workloads' keep-alive server parses with it too: tests/workloads/unit).
#include "net/http_request_parser.h"

#include <doctest/doctest.h>

using namespace mv::net;
using Status = RequestParse::Status;

TEST_CASE("request parser: pipelined requests - each one's consumed bytes start the next") {
  const std::string buf =
      "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
      "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n"
      "GET /c HTTP/1.0\r\n\r\n";
  ParsedRequest r;
  auto p = parseRequest(buf, r);
  REQUIRE(p.status == Status::Complete);
  CHECK(r.head.target == "/a");
  CHECK(r.body == "abc");
  std::size_t at = p.consumed;
  p = parseRequest(std::string_view(buf).substr(at), r);
  REQUIRE(p.status == Status::Complete);
  CHECK(r.head.target == "/b");
  CHECK(r.body == "hi");
  at += p.consumed;
  p = parseRequest(std::string_view(buf).substr(at), r);
  REQUIRE(p.status == Status::Complete);
  CHECK(r.head.target == "/c");
  CHECK(r.head.minorVersion == 0);
  CHECK(at + p.consumed == buf.size());
}

TEST_CASE("request parser: incomplete until the body is whole, limits answered with their status") {
  ParsedRequest r;
  CHECK(parseRequest("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nab", r).status == Status::Incomplete);
  CHECK(parseRequest("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", r).status ==
        Status::Incomplete);
  RequestLimits small;
  small.maxBodyBytes = 2;
  small.maxHeaderBytes = 64;
  small.maxTargetBytes = 4;
  CHECK(parseRequest("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\n", r, small).errorStatus == 413);
  CHECK(parseRequest("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n2\r\nbc\r\n0\r\n\r\n", r, small)
            .errorStatus == 413);
  CHECK(parseRequest("GET /abcde HTTP/1.1\r\n\r\n", r, small).errorStatus == 414);
  CHECK(parseRequest("GET / HTTP/1.1\r\nX: " + std::string(100, 'a'), r, small).errorStatus == 431);
  CHECK(parseRequest("GET / HTTP/3\r\n\r\n", r).errorStatus == 505);
  CHECK(parseRequest("GET / HTTX/1.1\r\n\r\n", r).errorStatus == 400);
}

TEST_CASE("request parser: a bare LF ends lines too (RFC 9112 section 2.2), leading blank lines are skipped") {
  ParsedRequest r;
  const auto p = parseRequest("\r\n\nGET /x HTTP/1.1\nHost: a\n\n", r);
  REQUIRE(p.status == Status::Complete);
  CHECK(r.head.target == "/x");
  CHECK(findHeader(r.head.headers, "host") == "a");
  CHECK(expectsContinue("POST /x HTTP/1.1\nExpect: 100-continue\n\n"));
}

TEST_CASE("decodeChunked reports the bytes the body took, and TooLarge past its bound") {
  std::string out;
  std::size_t used = 0;
  const std::string body = "3\r\nabc\r\n0\r\n\r\n";
  CHECK(decodeChunked(body + "NEXT", out, &used) == ChunkedStatus::Complete);
  CHECK(used == body.size());
  CHECK(decodeChunked(body, out, &used, 2) == ChunkedStatus::TooLarge);
}
