#pragma once
// Transforms applied to every object before the informer caches it (client-go's SetTransform): the cache keeps only
// what the operator reads, which is what keeps 10,000 pods within the memory budget.
//
// Contract of a Transform: takes the object as the API server sent it (list item or watch event object) and returns
// what to cache. It must keep metadata.name, metadata.namespace and metadata.resourceVersion (the cache key and the
// change detection use them), must be deterministic (a relist compares the transformed objects to tell updates
// from no-ops), and must not throw for a well-formed object of its resource type. Handlers and readers see only the
// transformed object.

#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "kube/json_parse.h"

namespace mv::runtime::informer {

using json = nlohmann::json;

using Transform = std::function<json(json&&)>;

// Removes metadata.managedFields (often the largest part of an object) and the
// kubectl.kubernetes.io/last-applied-configuration annotation (a full copy of the object as last applied).
json stripManagedFields(json&& object);

// Keeps what the MediVote operator reads from a Pod, and nothing else:
// - apiVersion, kind;
// - metadata: name, namespace, uid, resourceVersion, labels, annotations (without last-applied-configuration),
//   ownerReferences, deletionTimestamp, deletionGracePeriodSeconds;
// - spec: nodeName, terminationGracePeriodSeconds, per container: name, ports, lifecycle, and per init container:
//   name, ports, restartPolicy (the agent sidecar's port);
// - status: phase, podIP, the Ready condition, and per container status: name, ready, restartCount, started, state,
//   lastState (a restart during a shutdown is seen through it).
json projectPodForOperator(json&& pod);

// The members projectPodForOperator reads, for the informer's list decoding (ReflectorOptions::itemFields): a pod
// built with only these projects to exactly what the whole pod projects to (tested). Shared; never null.
std::shared_ptr<const kube::JsonFieldFilter> podOperatorFields();

// Applies `first`, then `second`.
Transform compose(Transform first, Transform second);

}  // namespace mv::runtime::informer
