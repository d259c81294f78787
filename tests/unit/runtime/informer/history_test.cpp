// The pure history checks: resourceVersions compared only when both are decimal, and the two "future revision"
// errors a server answers for a resourceVersion beyond its current revision.

#include "runtime/informer/history.h"

#include <doctest/doctest.h>

#include "support/fake_client.h"

using namespace mv::runtime::informer;
using mv::kube::StatusReason;
using json = nlohmann::json;

TEST_CASE("a lower decimal resourceVersion is a history that went back, and equal, higher or opaque ones are not") {
  auto why = historyWentBack("7300", "200");
  REQUIRE(why);
  CHECK(why->find("7300") != std::string::npos);
  CHECK(why->find("200") != std::string::npos);
  CHECK(historyWentBack("10", "9"));

  CHECK_FALSE(historyWentBack("200", "200"));
  CHECK_FALSE(historyWentBack("200", "7300"));
  CHECK_FALSE(historyWentBack("99", "100"));  // not a string comparison: "99" > "100" as text
  CHECK_FALSE(historyWentBack("", "5"));
  CHECK_FALSE(historyWentBack("5", ""));
  CHECK_FALSE(historyWentBack("abc", "5"));    // opaque (not etcd-backed): never compared
  CHECK_FALSE(historyWentBack("7300", "a1"));
  CHECK_FALSE(historyWentBack("7300", "-1"));
  CHECK_FALSE(historyWentBack("7300", "12 "));
  CHECK_FALSE(historyWentBack("99999999999999999999999", "5"));  // beyond 64 bits: not an etcd revision
}

TEST_CASE("etcd's future revision (500, no reason) and the watch cache's 504 Too large resource version are recognised") {
  CHECK(isFutureRevision(mv::testing::apiError(500, StatusReason::Unknown,
                                               "etcdserver: mvcc: required revision is a future revision")));
  CHECK(isFutureRevision(mv::testing::apiError(504, StatusReason::Timeout,
                                               "Timeout: Too large resource version: 7300, current: 200")));
  json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"}, {"code", 504},
                 {"reason", "Timeout"}, {"message", "Timeout: request did not complete"},
                 {"details", {{"causes", {{{"reason", "ResourceVersionTooLarge"},
                                           {"message", "Too large resource version"}}}}}}};
  CHECK(isFutureRevision(mv::kube::ApiError(504, StatusReason::Timeout, "Timeout: request did not complete", status)));

  CHECK_FALSE(isFutureRevision(mv::testing::internalError()));
  CHECK_FALSE(isFutureRevision(mv::testing::goneError()));
  CHECK_FALSE(isFutureRevision(mv::testing::apiError(504, StatusReason::Timeout, "Timeout: request did not complete")));
  CHECK_FALSE(isFutureRevision(mv::testing::apiError(400, StatusReason::BadRequest,
                                                     "required revision is a future revision")));
}
