#include "kube/errors.h"

#include <doctest/doctest.h>

using namespace mv::kube;

TEST_CASE("a Status body becomes a typed error that keeps the server's message") {
  const auto err = apiErrorFromResponse(
      409,
      R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on medivoteservices.medivote.io \"sem\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","details":{"name":"sem","group":"medivote.io","kind":"medivoteservices"},"code":409})J");
  CHECK(err.isConflict());
  CHECK_FALSE(err.isAlreadyExists());
  CHECK(err.code() == 409);
  CHECK(err.message().find("the object has been modified") != std::string::npos);
  CHECK(std::string(err.what()).find("Conflict") != std::string::npos);
  CHECK(err.status()["details"]["name"] == "sem");
}

TEST_CASE("each reason maps to its predicate") {
  auto make = [](int code, const char* reason) {
    return apiErrorFromResponse(
        code, std::string(R"J({"kind":"Status","status":"Failure","message":"m","reason":")J") + reason +
                  R"J(","code":)J" + std::to_string(code) + "}");
  };
  CHECK(make(404, "NotFound").isNotFound());
  CHECK(make(409, "AlreadyExists").isAlreadyExists());
  CHECK_FALSE(make(409, "AlreadyExists").isConflict());
  CHECK(make(410, "Expired").isGone());
  CHECK(make(410, "Gone").isGone());
  CHECK(make(422, "Invalid").isInvalid());
  CHECK(make(403, "Forbidden").isForbidden());
  CHECK(make(401, "Unauthorized").isUnauthorized());
  CHECK(make(429, "TooManyRequests").isTooManyRequests());
  CHECK(make(500, "InternalError").isRetryable());
  CHECK(make(503, "ServiceUnavailable").isRetryable());
  CHECK(make(504, "Timeout").isRetryable());
  CHECK(make(500, "ServerTimeout").isRetryable());
  CHECK_FALSE(make(422, "Invalid").isRetryable());
  CHECK_FALSE(make(404, "NotFound").isRetryable());
}

TEST_CASE("Retry-After comes from the header, else from details.retryAfterSeconds") {
  const auto header = apiErrorFromResponse(429, R"J({"kind":"Status","reason":"TooManyRequests","code":429})J", "7");
  REQUIRE(header.retryAfter());
  CHECK(header.retryAfter()->count() == 7);
  const auto details = apiErrorFromResponse(
      429, R"J({"kind":"Status","reason":"TooManyRequests","code":429,"details":{"retryAfterSeconds":10}})J");
  REQUIRE(details.retryAfter());
  CHECK(details.retryAfter()->count() == 10);
  // The eviction 429 of a PDB carries no Retry-After at all (retryAfterSeconds 0).
  const auto none = apiErrorFromResponse(
      429,
      R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Cannot evict pod as it would violate the pod's disruption budget.","reason":"TooManyRequests","details":{"causes":[{"reason":"DisruptionBudget","message":"The disruption budget ev-pdb needs 2 healthy pods and has 2 currently"}]},"code":429})J");
  CHECK_FALSE(none.retryAfter());
  CHECK(apiErrorFromResponse(429, "", "Wed, 21 Oct 2015 07:28:00 GMT").retryAfter() == std::nullopt);
}

TEST_CASE("a non-Status body (the text/plain 404 of an unknown group) still gives a typed error") {
  const auto err = apiErrorFromResponse(404, "404 page not found\n");
  CHECK(err.isNotFound());
  CHECK(err.message() == "404 page not found");
  CHECK(err.status()["code"] == 404);
  const auto empty = apiErrorFromResponse(502, "");
  CHECK(empty.message() == "HTTP 502");
  CHECK(empty.isRetryable());
}

TEST_CASE("a watch ERROR event with code 410 is Gone") {
  const auto status = json::parse(
      R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 458 (679)","reason":"Expired","code":410})J");
  const auto err = apiErrorFromStatus(status);
  CHECK(err.isGone());
  CHECK(err.message() == "too old resource version: 458 (679)");
  CHECK(apiErrorFromStatus(json::parse(R"J({"code":500})J")).isRetryable());
  CHECK(apiErrorFromStatus(json("garbage")).code() == 500);
}
