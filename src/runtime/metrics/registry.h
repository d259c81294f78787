#pragma once
// The one owner of the process's prometheus registry, and the metric families every runtime component reports to.
// Components never create families themselves: they ask the group for their labelled children, so a name is declared
// once, with its help text and buckets, and dashboards built for controller-runtime find the names they expect.
//
// Contract:
// - Thread-safe; metrics may be updated from any thread.
// - Collect hooks run at the start of every collection (scrape), before the families are read: they refresh values
//   computed on demand (the work queues' unfinished-work gauges). A hook runs while the hook list is locked: it must
//   not add or remove hooks.

#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>

#include <prometheus/collectable.h>
#include <prometheus/registry.h>

#include "runtime/metrics/controller_metrics.h"
#include "runtime/metrics/leader_election_metrics.h"
#include "runtime/metrics/rest_client_metrics.h"
#include "runtime/metrics/workqueue_metrics.h"

namespace mv::runtime::metrics {

class Registry {
 public:
  // Unregisters its hook when destroyed. Must not outlive the Registry.
  class HookHandle {
   public:
    HookHandle() = default;
    HookHandle(HookHandle&& other) noexcept;
    HookHandle& operator=(HookHandle&& other) noexcept;
    ~HookHandle();

   private:
    friend class Registry;
    struct Shared;
    HookHandle(std::shared_ptr<Shared> shared, std::list<std::function<void()>>::iterator it);
    std::shared_ptr<Shared> shared_;
    std::list<std::function<void()>>::iterator it_;
  };

  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  prometheus::Registry& prometheus() { return *prometheus_; }
  // What an Exposer serves: runs the collect hooks, then collects every family.
  std::shared_ptr<prometheus::Collectable> collectable() { return collectable_; }
  // The text exposition format (what /metrics returns), for tests and debugging.
  std::string scrapeText();

  [[nodiscard]] HookHandle addCollectHook(std::function<void()> hook);

  ControllerMetrics& controllers() { return controllers_; }
  WorkqueueMetrics& workqueues() { return workqueues_; }
  RestClientMetrics& restClient() { return restClient_; }
  LeaderElectionMetrics& leaderElection() { return leaderElection_; }

 private:
  class HookedCollectable;
  std::shared_ptr<prometheus::Registry> prometheus_;
  std::shared_ptr<HookHandle::Shared> hooks_;
  std::shared_ptr<prometheus::Collectable> collectable_;
  ControllerMetrics controllers_;
  WorkqueueMetrics workqueues_;
  RestClientMetrics restClient_;
  LeaderElectionMetrics leaderElection_;
};

}  // namespace mv::runtime::metrics
