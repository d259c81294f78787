#include "runtime/informer/informer.h"

#include <malloc.h>

#include <algorithm>

#include "runtime/informer/object_key.h"
#include "util/log.h"

namespace mv::runtime::informer {

Informer::Informer(kube::Client& client, kube::Resource resource, util::Clock& clock, InformerOptions options)
    : resource_(std::move(resource)),
      clock_(clock),
      transform_(std::move(options.transform)),
      store_(options.indexers),
      reflector_(client, resource_, options.ns, clock, *this, std::move(options.reflector)) {}

Informer::~Informer() { stop(); }

void Informer::start() {
  std::lock_guard<std::mutex> lock(threadMu_);
  if (thread_.joinable() || reflector_.state() == ReflectorState::Stopped) return;
  thread_ = std::thread([this] { reflector_.run(); });
}

void Informer::stop() {
  reflector_.stop();
  syncedOrStopped_.raise();
  std::lock_guard<std::mutex> lock(threadMu_);
  if (thread_.joinable()) thread_.join();
}

bool Informer::hasSynced() const { return synced_.raised(); }

bool Informer::waitForSync(util::Clock::TimePoint deadline) {
  syncedOrStopped_.waitUntil(clock_, deadline);
  return synced_.raised();
}

void Informer::addEventHandler(EventHandler handler) {
  std::lock_guard<std::mutex> lock(handlersMu_);
  if (handler.onAdd) {
    for (const auto& object : store_.list()) {
      try {
        handler.onAdd(object);
      } catch (const std::exception& e) {
        log::error("event handler failed", {{"resource", resource_.qualifiedName()}, {"event", "add"},
                                            {"error", e.what()}});
      }
    }
  }
  handlers_.push_back(std::move(handler));
}

template <typename Call>
void Informer::dispatchLocked(const char* what, Call&& call) {
  for (const auto& handler : handlers_) {
    try {
      call(handler);
    } catch (const std::exception& e) {
      log::error("event handler failed", {{"resource", resource_.qualifiedName()}, {"event", what},
                                          {"error", e.what()}});
    }
  }
}

json Informer::prepare(json&& object) const {
  if (object.is_object()) {
    object["kind"] = resource_.kind;
    object["apiVersion"] = resource_.apiVersion();
  }
  return transform_ ? transform_(std::move(object)) : std::move(object);
}

void Informer::beginList() { pendingList_.emplace(store_.newSnapshot()); }

void Informer::listedItems(json& items) {
  if (!pendingList_) pendingList_.emplace(store_.newSnapshot());
  for (auto& item : items) {
    pendingList_->add(prepare(std::move(item)));
    item = nullptr;  // free each raw item as soon as it is encoded
  }
}

void Informer::endList(const std::string& resourceVersion) {
  if (!pendingList_) pendingList_.emplace(store_.newSnapshot());
  std::size_t added = 0, updated = 0, deleted = 0;
  {
    // The swap happens under handlersMu_ so that a handler added meanwhile is replayed either the old content
    // (and then told the changes) or the new one (and told nothing twice).
    std::lock_guard<std::mutex> lock(handlersMu_);
    auto changes = store_.replace(std::move(*pendingList_));
    pendingList_.reset();
    std::sort(changes.begin(), changes.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    for (const auto& change : changes) {
      if (!change.before) {
        ++added;
        if (handlers_.empty()) continue;
        json object = decodeObject(change.after);
        dispatchLocked("add", [&](const EventHandler& h) { if (h.onAdd) h.onAdd(object); });
      } else if (!change.after) {
        ++deleted;
        if (handlers_.empty()) continue;
        json last = decodeObject(change.before);
        dispatchLocked("delete", [&](const EventHandler& h) { if (h.onDelete) h.onDelete(last); });
      } else {
        ++updated;
        if (handlers_.empty()) continue;
        json before = decodeObject(change.before);
        json after = decodeObject(change.after);
        dispatchLocked("update", [&](const EventHandler& h) { if (h.onUpdate) h.onUpdate(before, after); });
      }
    }
  }
  log::info("informer cache replaced", {{"resource", resource_.qualifiedName()},
                                        {"resourceVersion", resourceVersion},
                                        {"objects", static_cast<unsigned long>(store_.size())},
                                        {"added", static_cast<unsigned long>(added)},
                                        {"updated", static_cast<unsigned long>(updated)},
                                        {"deleted", static_cast<unsigned long>(deleted)}});
  // The list's pages (raw JSON trees, several times the size of what is cached) are freed by now, but the cache
  // lies scattered among them: pack it from a short-lived thread (its own malloc arena), then give the freed pages
  // back to the OS, so that the RSS reflects the cache and not the listing's peak (see Store::compact).
  std::thread([this] { store_.compact(); }).join();
  malloc_trim(0);
  synced_.raise();
  syncedOrStopped_.raise();
}

void Informer::watchEvent(const kube::WatchEvent& event) {
  json object = prepare(json(event.object));
  std::lock_guard<std::mutex> lock(handlersMu_);
  switch (event.type) {
    case kube::WatchEvent::Type::Added:
    case kube::WatchEvent::Type::Modified: {
      auto previous = store_.upsert(object);
      if (previous) {
        dispatchLocked("update", [&](const EventHandler& h) { if (h.onUpdate) h.onUpdate(*previous, object); });
      } else {
        dispatchLocked("add", [&](const EventHandler& h) { if (h.onAdd) h.onAdd(object); });
      }
      return;
    }
    case kube::WatchEvent::Type::Deleted:
      store_.erase(objectKey(object));
      dispatchLocked("delete", [&](const EventHandler& h) { if (h.onDelete) h.onDelete(object); });
      return;
    case kube::WatchEvent::Type::Bookmark:
    case kube::WatchEvent::Type::Error:
      return;  // the reflector handles these
  }
}

}  // namespace mv::runtime::informer
