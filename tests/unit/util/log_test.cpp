#include "util/log.h"

#include <doctest/doctest.h>

#include <sstream>

using namespace mv::log;

TEST_CASE("logfmt quotes values that need it and keeps keys in order") {
  const auto line = formatRecord(Format::Logfmt, "T", Level::Info, "pod shut down",
                                 {{"pod", "ns/a-0"}, {"stage", "Requested"}, {"msg2", "a b"}});
  CHECK(line == R"(ts=T level=info msg="pod shut down" pod=ns/a-0 stage=Requested msg2="a b")");
}

TEST_CASE("JSON records escape their strings") {
  const auto line = formatRecord(Format::Json, "T", Level::Warn, "quote\"d", {{"k", "line\nbreak"}});
  CHECK(line == R"({"ts":"T","level":"warn","msg":"quote\"d","k":"line\nbreak"})");
}

TEST_CASE("fields that name credentials are redacted in every format") {
  for (auto f : {Format::Logfmt, Format::Json}) {
    const auto line = formatRecord(f, "T", Level::Info, "m",
                                   {{"token", "s3cr3t"}, {"Authorization", "Bearer s3cr3t"}, {"bearerToken", "x"}});
    CHECK(line.find("s3cr3t") == std::string::npos);
    CHECK(line.find("<redacted>") != std::string::npos);
  }
  CHECK_FALSE(isSensitiveKey("pod"));
  CHECK(isSensitiveKey("tokenSecretRef.value"));
}

TEST_CASE("the level threshold filters records and scoped context is attached") {
  std::ostringstream out;
  setSink(&out);
  configure(Level::Warn, Format::Logfmt);
  info("hidden");
  {
    ScopedLogContext ctx(Fields{{"key", "ns/x"}});
    warn("shown", {{"a", 1}});
  }
  warn("after");
  configure(Level::Info, Format::Logfmt);
  setSink(nullptr);
  const auto text = out.str();
  CHECK(text.find("hidden") == std::string::npos);
  CHECK(text.find("msg=shown key=ns/x a=1") != std::string::npos);
  CHECK(text.find("msg=after\n") != std::string::npos);
  CHECK_THROWS_AS(parseLevel("loud"), std::invalid_argument);
  CHECK(parseFormat("JSON") == Format::Json);
}
