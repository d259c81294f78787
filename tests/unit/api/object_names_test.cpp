#include "api/object_names.h"

#include <doctest/doctest.h>

#include <string>

using namespace mv::api;

TEST_CASE("DNS-1123 labels: lower case alphanumerics and '-', alphanumeric ends, at most 63") {
  CHECK_FALSE(dns1123LabelError("data"));
  CHECK_FALSE(dns1123LabelError("0-data-1"));
  CHECK_FALSE(dns1123LabelError(std::string(63, 'a')));
  CHECK(dns1123LabelError(std::string(64, 'a')) == "must be no more than 63 characters");
  for (const char* bad : {"", "Data", "data.x", "-data", "data-", "da_ta"}) {
    CAPTURE(bad);
    CHECK(dns1123LabelError(bad));
  }
}

TEST_CASE("DNS-1123 subdomains: labels joined by dots, at most 253") {
  CHECK_FALSE(dns1123SubdomainError("vote-0"));
  CHECK_FALSE(dns1123SubdomainError("vote.v1-0"));
  CHECK_FALSE(dns1123SubdomainError(std::string(253, 'a')));
  CHECK(dns1123SubdomainError(std::string(254, 'a')) == "must be no more than 253 characters");
  for (const char* bad : {"", "vote..v1", ".vote", "vote.", "Vote-0", "vote_0", "vote.-x"}) {
    CAPTURE(bad);
    CHECK(dns1123SubdomainError(bad));
  }
}

TEST_CASE("DNS-1035 labels, as Service names: a letter first, no dots") {
  CHECK_FALSE(dns1035LabelError("vote"));
  CHECK_FALSE(dns1035LabelError("v-1"));
  for (const char* bad : {"1vote", "vote.v1", "Vote", "vote-", ""}) {
    CAPTURE(bad);
    CHECK(dns1035LabelError(bad));
  }
  CHECK(dns1035LabelError(std::string(64, 'v')) == "must be no more than 63 characters");
}

TEST_CASE("label values: empty or at most 63 of alphanumerics, '-', '_' and '.', alphanumeric ends") {
  CHECK_FALSE(labelValueError(""));
  CHECK_FALSE(labelValueError("vote.v1_A-2"));
  CHECK(labelValueError(std::string(64, 'v')));
  CHECK(labelValueError("-vote"));
  CHECK(labelValueError("vote/x"));
}
