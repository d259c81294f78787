#pragma once
// Mapping cache changes to the keys to reconcile: the object's own key, or the key of its controller owner (a pod
// change enqueues its owning MediVoteService, as controller-runtime's EnqueueRequestForOwner with OnlyControllerOwner).

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/informer/event_handler.h"

namespace mv::runtime::informer {

using EnqueueKey = std::function<void(const std::string& key)>;

// "namespace/name" of the object's controller owner (ownerReferences[controller=true]) when that owner has kind
// `ownerKind` and, if `ownerGroup` is not empty, an apiVersion of that API group. Owners live in the object's own
// namespace (the API forbids cross-namespace owners), so the namespace is the object's.
std::optional<std::string> controllerOwnerKey(const json& object, std::string_view ownerKind,
                                              std::string_view ownerGroup = "");

// Enqueues the object's own key on add, update and delete.
EventHandler enqueueObjectKey(EnqueueKey enqueue);

// Enqueues the controller owner's key (see controllerOwnerKey) on add, update (for the old and the new owner when
// they differ) and delete. Objects without such an owner enqueue nothing.
EventHandler enqueueControllerOwner(std::string ownerKind, std::string ownerGroup, EnqueueKey enqueue);

}  // namespace mv::runtime::informer
