// The write guard (issue 15 item 3): no write reaches the server while the permit says no; reads always do.
#include "kube/write_guard.h"

#include <doctest/doctest.h>

#include <atomic>

#include "support/fake_client.h"

using namespace mv;
using json = nlohmann::json;

namespace {

bool refusedAsCancelled(const std::function<void()>& write) {
  try {
    write();
  } catch (const kube::TransportError& e) {
    return e.kind() == kube::TransportError::Kind::Cancelled;
  }
  return false;
}

json pod(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}, {"namespace", "ns"}}}};
}

}  // namespace

TEST_CASE("write guard: without the permit no write is sent, reads still are") {
  testing::FakeClient inner;
  inner.put(kube::resources::pods(), pod("a"));
  std::atomic<bool> held{false};
  kube::WriteGuardedClient guarded(inner, [&] { return held.load(); }, "the leader lease is not held");
  const auto& pods = kube::resources::pods();
  const std::size_t callsBefore = inner.calls().size();

  CHECK(refusedAsCancelled([&] { guarded.create(pods, "ns", pod("b")); }));
  CHECK(refusedAsCancelled([&] { guarded.update(pods, "ns", pod("a")); }));
  CHECK(refusedAsCancelled([&] { guarded.patch(pods, "ns", "a", kube::PatchType::Merge, json::object()); }));
  CHECK(refusedAsCancelled([&] { guarded.remove(pods, "ns", "a"); }));
  CHECK(refusedAsCancelled([&] { guarded.createSubresource(pods, "ns", "a", "eviction", json::object()); }));
  CHECK(inner.calls().size() == callsBefore);  // nothing reached the server
  CHECK(guarded.refused() == 5);

  CHECK(guarded.get(pods, "ns", "a")["metadata"]["name"] == "a");
  CHECK(guarded.list(pods, "ns")["items"].size() == 1);

  held = true;
  guarded.patch(pods, "ns", "a", kube::PatchType::Merge, {{"metadata", {{"labels", {{"x", "y"}}}}}});
  CHECK(inner.calls("patch").size() == 1);
  CHECK_FALSE(inner.object(pods, "ns", "b").has_value());
}

TEST_CASE("write guard: the permit is asked at each write, not once") {
  testing::FakeClient inner;
  inner.put(kube::resources::pods(), pod("a"));
  int asked = 0;
  kube::WriteGuardedClient guarded(inner, [&] { return ++asked == 1; }, "lease");
  guarded.patch(kube::resources::pods(), "ns", "a", kube::PatchType::Merge, json::object());
  CHECK(refusedAsCancelled(
      [&] { guarded.patch(kube::resources::pods(), "ns", "a", kube::PatchType::Merge, json::object()); }));
  CHECK(asked == 2);
}
