#include "medivote/derived_names.h"

#include <doctest/doctest.h>

#include <string>

using namespace mv;
using namespace mv::medivote;
using json = nlohmann::json;

namespace {
api::MediVoteService mvs(const std::string& name, bool ports = true) {
  json o = json::parse(R"({
    "metadata": {"name": "vote", "namespace": "ns", "uid": "u1"},
    "spec": {"replicas": 12,
             "template": {"spec": {"containers": [{"name": "vote", "image": "vote:1"}]}},
             "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}
  })");
  o["metadata"]["name"] = name;
  if (ports) o["spec"]["template"]["spec"]["containers"][0]["ports"] = json::array({{{"containerPort", 8080}}});
  return api::parseMediVoteService(o).object;
}

std::string messages(const std::vector<api::FieldError>& errors) {
  std::string all;
  for (const auto& e : errors) all += e.field + ": " + e.message + "\n";
  return all;
}
}  // namespace

TEST_CASE("derived names: a plain name makes valid objects") { CHECK(derivedNameErrors(mvs("vote")).empty()); }

TEST_CASE("derived names: a dot or a leading digit is refused for the Service only when a Service is made") {
  for (const char* name : {"vote.v1", "1vote"}) {
    CAPTURE(name);
    const auto errors = derivedNameErrors(mvs(name));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "metadata.name");
    CHECK(errors[0].message.find("the Service name") == 0);
    CHECK(derivedNameErrors(mvs(name, false)).empty());  // no ports: no Service
  }
}

TEST_CASE("derived names: the label value, the claims and the volume name are checked") {
  const auto tooLong = derivedNameErrors(mvs(std::string(64, 'v')));
  CHECK(messages(tooLong).find("label medivote.io/service") != std::string::npos);
  CHECK(messages(tooLong).find("the Service name") != std::string::npos);

  auto m = mvs("vote");
  m.spec.volumeClaimTemplates = json::array({{{"metadata", {{"name", "Data"}}}},
                                             {{"metadata", {{"name", std::string(200, 'd')}}}}});
  const std::string all = messages(derivedNameErrors(m));
  CHECK(all.find("spec.volumeClaimTemplates[0].metadata.name: the pod volume name 'Data'") != std::string::npos);
  CHECK(all.find("spec.volumeClaimTemplates[1].metadata.name: the pod volume name") != std::string::npos);
  CHECK(all.find("the claim name 'Data-vote-11'") != std::string::npos);  // up to the last ordinal
  // <claim>-<name>-<last ordinal>: 200 + 1 + 4 + 1 + 2 characters is still a valid claim name.
  CHECK(all.find("the claim name 'dd") == std::string::npos);
  m.spec.volumeClaimTemplates = json::array({{{"metadata", {{"name", std::string(250, 'd')}}}}});
  CHECK(messages(derivedNameErrors(m)).find("the claim name") != std::string::npos);
}

TEST_CASE("derived names: the operator token Secret name may exceed 63 characters - a subdomain, not a label") {
  auto m = mvs(std::string(63, 'v'));
  m.spec.shutdown.endpoint = api::EndpointSpec{};
  m.spec.shutdown.endpoint->reach = api::Reach::Agent;
  // 63 + "-agent-token" is a valid subdomain: only the Service and label rules could fail, and they pass at 63.
  CHECK(derivedNameErrors(m).empty());
}
