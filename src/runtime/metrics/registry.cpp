#include "runtime/metrics/registry.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

namespace mv::runtime::metrics {

struct Registry::HookHandle::Shared {
  std::mutex mu;
  std::list<std::function<void()>> hooks;
};

Registry::HookHandle::HookHandle(std::shared_ptr<Shared> shared, std::list<std::function<void()>>::iterator it)
    : shared_(std::move(shared)), it_(it) {}

Registry::HookHandle::HookHandle(HookHandle&& other) noexcept
    : shared_(std::move(other.shared_)), it_(other.it_) {
  other.shared_.reset();
}

Registry::HookHandle& Registry::HookHandle::operator=(HookHandle&& other) noexcept {
  if (this != &other) {
    this->~HookHandle();
    shared_ = std::move(other.shared_);
    it_ = other.it_;
    other.shared_.reset();
  }
  return *this;
}

Registry::HookHandle::~HookHandle() {
  if (!shared_) return;
  std::lock_guard<std::mutex> g(shared_->mu);
  shared_->hooks.erase(it_);
  shared_.reset();
}

class Registry::HookedCollectable final : public prometheus::Collectable {
 public:
  HookedCollectable(std::shared_ptr<prometheus::Registry> registry, std::shared_ptr<HookHandle::Shared> hooks)
      : registry_(std::move(registry)), hooks_(std::move(hooks)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    {
      std::lock_guard<std::mutex> g(hooks_->mu);
      for (const auto& hook : hooks_->hooks) hook();
    }
    return registry_->Collect();
  }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<HookHandle::Shared> hooks_;
};

Registry::Registry()
    : prometheus_(std::make_shared<prometheus::Registry>()),
      hooks_(std::make_shared<HookHandle::Shared>()),
      collectable_(std::make_shared<HookedCollectable>(prometheus_, hooks_)),
      controllers_(*prometheus_),
      workqueues_(*prometheus_),
      restClient_(*prometheus_),
      leaderElection_(*prometheus_) {}

std::string Registry::scrapeText() {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(collectable_->Collect());
}

Registry::HookHandle Registry::addCollectHook(std::function<void()> hook) {
  std::lock_guard<std::mutex> g(hooks_->mu);
  hooks_->hooks.push_back(std::move(hook));
  return HookHandle(hooks_, std::prev(hooks_->hooks.end()));
}

}  // namespace mv::runtime::metrics
