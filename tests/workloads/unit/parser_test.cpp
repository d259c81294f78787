#include <doctest/doctest.h>

#include "http/parser.h"

using namespace mv::workloads::http;
using Status = ParseResult::Status;

namespace {

ParseResult parse(std::string_view wire, Request& req, Limits limits = {}) { return parseRequest(wire, req, limits); }

}  // namespace

TEST_CASE("parser: a GET with query and headers") {
  Request req;
  const std::string wire = "GET /votes/count?x=1&y=a%20b HTTP/1.1\r\nHost: h\r\nX-Thing:  v \r\n\r\nNEXT";
  const auto r = parse(wire, req);
  REQUIRE(r.status == Status::Complete);
  CHECK(r.consumed == wire.size() - 4);
  CHECK(req.method == "GET");
  CHECK(req.path == "/votes/count");
  CHECK(req.query == "x=1&y=a%20b");
  CHECK(req.queryParam("y") == "a b");
  CHECK(req.queryParam("z") == std::nullopt);
  CHECK(req.header("x-thing") == "v");
  CHECK(req.keepAlive());
}

TEST_CASE("parser: incomplete until the whole body arrived") {
  Request req;
  const std::string wire = "POST /votes HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  for (size_t n = 0; n < wire.size(); ++n) CHECK(parse(wire.substr(0, n), req).status == Status::Incomplete);
  const auto r = parse(wire, req);
  REQUIRE(r.status == Status::Complete);
  CHECK(req.body == "hello");
}

TEST_CASE("parser: chunked body with extensions and trailers") {
  Request req;
  const std::string wire =
      "POST /votes HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: x\r\n\r\n";
  const auto r = parse(wire, req);
  REQUIRE(r.status == Status::Complete);
  CHECK(r.consumed == wire.size());
  CHECK(req.body == "hello!");
  CHECK(parse(wire.substr(0, wire.size() - 2), req).status == Status::Incomplete);
}

TEST_CASE("parser: refusals") {
  Request req;
  auto status = [&](const std::string& wire, Limits limits = {}) {
    const auto r = parse(wire, req, limits);
    return r.status == Status::Error ? r.errorStatus : 0;
  };
  CHECK(status("GARBAGE\r\n\r\n") == 400);
  CHECK(status("GET /x HTTP/2.0\r\n\r\n") == 505);
  CHECK(status("GET x HTTP/1.1\r\n\r\n") == 400);
  CHECK(status("GET http://evil/x HTTP/1.1\r\n\r\n") == 400);
  CHECK(status("GET /x HTTP/1.1\r\n folded\r\n\r\n") == 400);
  CHECK(status("GET /x HTTP/1.1\r\nBad Name: v\r\n\r\n") == 400);
  CHECK(status("POST /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  CHECK(status("POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") == 400);
  CHECK(status("POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == 400);
  CHECK(status("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n") == 501);
  CHECK(status("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == 400);
  Limits small;
  small.maxBodyBytes = 4;
  small.maxHeaderBytes = 64;
  small.maxTargetBytes = 8;
  CHECK(status("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n", small) == 413);
  CHECK(status("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", small) == 413);
  CHECK(status("GET /" + std::string(100, 'a'), small) == 431);
  CHECK(status("GET /123456789 HTTP/1.1\r\n\r\n", small) == 414);
}

TEST_CASE("parser: HTTP/1.0 keep-alive only when asked, HTTP/1.1 until close") {
  Request req;
  REQUIRE(parse("GET / HTTP/1.0\r\n\r\n", req).status == Status::Complete);
  CHECK_FALSE(req.keepAlive());
  REQUIRE(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", req).status == Status::Complete);
  CHECK(req.keepAlive());
  REQUIRE(parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", req).status == Status::Complete);
  CHECK_FALSE(req.keepAlive());
}

TEST_CASE("parser: Expect 100-continue is seen once the headers are complete") {
  CHECK_FALSE(expectsContinue("POST /x HTTP/1.1\r\nExpect: 100-continue\r\n"));
  CHECK(expectsContinue("POST /x HTTP/1.1\r\nContent-Length: 3\r\nEXPECT:  100-Continue\r\n\r\n"));
  CHECK_FALSE(expectsContinue("POST /x HTTP/1.1\r\nX-Expect: 100-continue\r\n\r\n"));
}

TEST_CASE("percentDecode") {
  CHECK(percentDecode("a%2Fb", false) == "a/b");
  CHECK(percentDecode("a+b", true) == "a b");
  CHECK(percentDecode("a+b", false) == "a+b");
  CHECK(percentDecode("%zz", false) == std::nullopt);
  CHECK(percentDecode("%4", false) == std::nullopt);
  CHECK(percentDecode("%", false) == std::nullopt);
}
