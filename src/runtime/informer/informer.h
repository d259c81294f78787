#pragma once
// An informer: one reflector feeding one indexed cache for one resource type, and the event handlers told about
// every change (client-go's SharedIndexInformer, without the sharing: the manager creates one per resource type).
//
// Contract:
// - start() runs the reflector on a thread of the informer's own; stop() ends it and joins (idempotent; the
//   destructor calls it). An informer runs once: start() after stop() does nothing.
// - Every object, from a list or a watch event, gets kind and apiVersion set from the resource (list items come
//   without them), then passes through the transform, before it is cached or shown to a handler.
// - hasSynced() turns true once the first full list is in the cache and its onAdd calls were made, and stays true
//   (relists included). waitForSync() waits for it on the informer's clock.
// - staleReason() is set while the cache is known to be stale: freshness_check.h makes a readiness check of it.
// - The cache is read through store(); it is written only by the informer.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "runtime/informer/clock_signal.h"
#include "runtime/informer/event_handler.h"
#include "runtime/informer/indexers.h"
#include "runtime/informer/reflector.h"
#include "runtime/informer/store.h"
#include "runtime/informer/transforms.h"
#include "util/clock.h"

namespace mv::runtime::informer {

struct InformerOptions {
  std::string ns;       // "" = all namespaces
  Transform transform;  // empty = cache objects as sent (kind/apiVersion added)
  Indexers indexers = defaultIndexers();
  ReflectorOptions reflector;
};

class Informer final : private ReflectorSink {
 public:
  // The client and clock must outlive the informer.
  Informer(kube::Client& client, kube::Resource resource, util::Clock& clock, InformerOptions options = {});
  ~Informer() override;
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Registers handlers. Allowed at any time: objects already cached are replayed to the new handler as onAdd
  // (as client-go does), before it sees any later change.
  void addEventHandler(EventHandler handler);

  void start();
  void stop();

  bool hasSynced() const;
  // True once synced; false when `deadline` (on the informer's clock) passes first or the informer is stopped.
  bool waitForSync(util::Clock::TimePoint deadline);

  const Store& store() const { return store_; }
  const kube::Resource& resource() const { return resource_; }
  ReflectorState state() const { return reflector_.state(); }
  std::string lastSyncResourceVersion() const { return reflector_.resourceVersion(); }
  // Why the cache is known to be stale (the API server's history went backwards and the relist is not complete),
  // or nullopt. See reflector.h.
  std::optional<std::string> staleReason() const { return reflector_.staleReason(); }

 private:
  // ReflectorSink
  void beginList() override;
  void listedItems(json& items) override;
  void endList(const std::string& resourceVersion) override;
  void watchEvent(const kube::WatchEvent& event) override;

  json prepare(json&& object) const;
  // Calls `call` for every handler, catching and logging their exceptions. Caller holds handlersMu_.
  template <typename Call>
  void dispatchLocked(const char* what, Call&& call);

  const kube::Resource resource_;
  util::Clock& clock_;
  Transform transform_;
  Store store_;
  Reflector reflector_;
  std::optional<Store::Snapshot> pendingList_;

  std::mutex handlersMu_;
  std::vector<EventHandler> handlers_;

  ClockSignal synced_;
  ClockSignal syncedOrStopped_;  // what waitForSync() waits for

  std::mutex threadMu_;
  std::thread thread_;
};

}  // namespace mv::runtime::informer
