#pragma once
// The reflector tests' fixture: an Informer (the reflector's sink) on the scripted fake API server, with a fake
// clock, a recording handler and waits for the reflector's state and its watches.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>

#include "informer_test_support.h"
#include "runtime/informer/informer.h"
#include "support/fake_client.h"
#include "util/clock.h"

namespace mv::testing {

using runtime::informer::Informer;
using runtime::informer::InformerOptions;
using runtime::informer::ReflectorState;

struct ReflectorFixture {
  util::FakeClock clock;
  FakeClient client;
  RecordingHandler recorder;
  std::unique_ptr<Informer> informer;  // declared last: stopped and destroyed first

  ReflectorFixture() { client.setEmitEvents(false); }
  ~ReflectorFixture() {
    if (informer) informer->stop();
  }

  void start(long pageSize = 500, std::chrono::seconds historyProbeAfter = std::chrono::seconds(10)) {
    InformerOptions options;
    options.reflector.pageSize = pageSize;
    options.reflector.historyProbeAfter = historyProbeAfter;
    options.reflector.random = [] { return 0.5; };
    informer = std::make_unique<Informer>(client, kube::resources::pods(), clock, options);
    informer->addEventHandler(recorder.handler());
    informer->start();
  }

  json seed(const std::string& name, json labels = json::object()) {
    return client.put(kube::resources::pods(), makePod("ns", name, std::move(labels)));
  }

  std::shared_ptr<FakeWatchStream> watch(std::size_t index) {
    auto stream = client.awaitWatch(index);
    REQUIRE(stream);
    return stream;
  }

  // Lists of the reflector's pages (limit = the page size), not of the history probe (limit 1).
  std::size_t relists() const {
    std::size_t n = 0;
    for (const auto& call : client.calls("list")) n += call.list.limit != 1;
    return n;
  }

  bool inState(ReflectorState s) {
    return eventually([&] { return informer->state() == s; });
  }
};

}  // namespace mv::testing
