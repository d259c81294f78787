#pragma once
// Callbacks an informer calls when its cache changes (client-go's ResourceEventHandlerFuncs).
//
// Contract:
// - Called on the informer's thread, one at a time, in the order the changes were applied to the cache, after the
//   cache already shows the change. Objects are the transformed ones (what the cache holds).
// - onAdd: an object appeared (first list, relist, or ADDED event).
// - onUpdate(old, new): its cached content changed (MODIFIED event, or a relist found it different).
// - onDelete(last): it is gone; `last` is its last known state (the DELETED event's object, or what the cache held
//   when a relist no longer listed it).
// - A handler must be quick (enqueue a key, do not reconcile inline) and must not call Informer::addEventHandler.
//   An exception from a handler is logged and does not stop the informer. Any member may be empty.
// - Handlers are level-triggered hints: a key may be enqueued several times for one change, and a reconcile must
//   read the current state from the cache rather than trust the event.

#include <functional>

#include <nlohmann/json.hpp>

namespace mv::runtime::informer {

using json = nlohmann::json;

struct EventHandler {
  std::function<void(const json& object)> onAdd;
  std::function<void(const json& oldObject, const json& newObject)> onUpdate;
  std::function<void(const json& lastKnown)> onDelete;
};

}  // namespace mv::runtime::informer
