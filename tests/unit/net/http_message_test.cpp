#include "net/http_message.h"

#include <doctest/doctest.h>

using namespace mv::net;

TEST_CASE("the end of a head is found with CRLF or bare LF line ends") {
  CHECK(findHeadEnd("GET / HTTP/1.1\r\nHost: x\r\n\r\nbody") == 27);
  CHECK(findHeadEnd("GET / HTTP/1.1\nHost: x\n\nbody") == 24);
  CHECK(findHeadEnd("GET / HTTP/1.1\r\nHost: x\r\n") == std::string_view::npos);
  CHECK(findHeadEnd("") == std::string_view::npos);
}

TEST_CASE("request heads are parsed strictly") {
  RequestHead h;
  std::string error;
  REQUIRE(parseRequestHead("POST /shutdown?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization:  Bearer t \r\n\r\n", h, error));
  CHECK(h.method == "POST");
  CHECK(h.target == "/shutdown?x=1");
  CHECK(h.minorVersion == 1);
  CHECK(findHeader(h.headers, "AUTHORIZATION").value() == "Bearer t");
  CHECK(!findHeader(h.headers, "missing"));

  RequestHead ok;
  CHECK(parseRequestHead("\r\nGET / HTTP/1.0\r\n\r\n", ok, error));  // a stray CRLF before the request line

  struct Bad {
    const char* head;
    const char* error;
  };
  for (Bad b : {Bad{"GET http://evil/ HTTP/1.1\r\n\r\n", "target is not origin-form"},
                Bad{"GET / HTTP/2.0\r\n\r\n", "unsupported HTTP version"},
                Bad{"GET / HTTP/1.1 extra\r\n\r\n", "malformed request line"},
                Bad{"GET  / HTTP/1.1\r\n\r\n", "malformed request line"},
                Bad{"G(T / HTTP/1.1\r\n\r\n", "malformed method"},
                Bad{"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", "malformed header"},
                Bad{"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", "malformed header"},
                Bad{"GET / HTTP/1.1\r\nNoColon\r\n\r\n", "malformed header"},
                Bad{"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", "malformed head"},
                Bad{"\x16\x03\x01\x02\x00\r\n\r\n", "malformed request line"}}) {
    RequestHead r;
    std::string e;
    CHECK_MESSAGE(!parseRequestHead(b.head, r, e), b.head);
    CHECK(e == b.error);
  }
}

TEST_CASE("response heads are parsed and garbage is refused") {
  ResponseHead h;
  REQUIRE(parseResponseHead("HTTP/1.1 409 busy now\r\nRetry-After: 7\r\n\r\n", h));
  CHECK(h.status == 409);
  CHECK(h.reason == "busy now");
  CHECK(retryAfterSeconds(h.headers) == 7);
  ResponseHead noReason;
  REQUIRE(parseResponseHead("HTTP/1.0 200\r\n\r\n", noReason));
  CHECK(noReason.status == 200);
  CHECK(noReason.reason.empty());
  for (const char* bad : {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/2 200 OK\r\n\r\n",
                          "HTTP/1.1 099 x\r\n\r\n", "HTTP/1.1 600 x\r\n\r\n", "hello world\r\n\r\n",
                          "HTTP/1.1 200OK\r\n\r\n", "HTTP/1.1 200 OK\r\nX\r\n\r\n"}) {
    ResponseHead r;
    CHECK_MESSAGE(!parseResponseHead(bad, r), bad);
  }
}

TEST_CASE("Content-Length is validated and duplicates must agree") {
  CHECK(!contentLength({}));
  CHECK(contentLength({{"Content-Length", "12"}}) == 12);
  CHECK(contentLength({{"content-length", "12"}, {"Content-Length", "12"}}) == 12);
  CHECK(contentLength({{"Content-Length", "12"}, {"Content-Length", "13"}}) == -1);
  CHECK(contentLength({{"Content-Length", "-1"}}) == -1);
  CHECK(contentLength({{"Content-Length", "1 2"}}) == -1);
  CHECK(contentLength({{"Content-Length", "99999999999999999999"}}) == -1);
}

TEST_CASE("Retry-After is honoured in delta-seconds only") {
  CHECK(retryAfterSeconds({{"Retry-After", "0"}}) == 0);
  CHECK(retryAfterSeconds({{"retry-after", "120"}}) == 120);
  CHECK(!retryAfterSeconds({{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}}));
  CHECK(!retryAfterSeconds({{"Retry-After", "-3"}}));
  CHECK(!retryAfterSeconds({}));
}

TEST_CASE("chunked bodies are decoded incrementally") {
  std::string out;
  CHECK(isChunked({{"Transfer-Encoding", "gzip, chunked"}}));
  CHECK(!isChunked({{"Transfer-Encoding", "chunked, gzip"}}));
  CHECK(decodeChunked("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", out) == ChunkedStatus::Complete);
  CHECK(out == "hello world");
  CHECK(decodeChunked("5\r\nhello\r\n0\r\nTrailer: x\r\n\r\n", out) == ChunkedStatus::Complete);
  CHECK(decodeChunked("5\r\nhel", out) == ChunkedStatus::Incomplete);
  CHECK(decodeChunked("5\r\nhello\r\n", out) == ChunkedStatus::Incomplete);
  CHECK(decodeChunked("zz\r\nhello\r\n", out) == ChunkedStatus::Invalid);
  CHECK(decodeChunked("5\r\nhelloXX0\r\n\r\n", out) == ChunkedStatus::Invalid);
}

TEST_CASE("tokens and field values") {
  CHECK(isToken("POST"));
  CHECK(!isToken("PO ST"));
  CHECK(!isToken(""));
  CHECK(isFieldValue("Bearer abc\tdef"));
  CHECK(!isFieldValue("abc\r\nX-Injected: 1"));
  CHECK(standardReason(404) == "Not Found");
  CHECK(standardReason(599).empty());
}
