#pragma once
// How the cache keeps an object in memory: encoded, immutable and shared, decoded on every read.
//
// Why encoded (measured with g++ 12 -O2, nlohmann 3.11, a kubelet-style pod, tests/unit/runtime/informer/
// realistic_pod.h): the pod is 5,557 bytes of JSON text; projected for the operator (projectPodForOperator) 1,105
// bytes of text, but 8.1 kB of heap as an nlohmann::json tree (a node per value, a std::map per object). Encoded as
// below it is 647 bytes; with its key and index entries the store holds 10,000 such pods in ~11 MB of heap,
// against ~81 MB for trees. A read pays a decode (~10-20 us per pod). Encoded objects are shared (std::shared_ptr)
// so that a relist's change list and concurrent readers never copy them.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace mv::runtime::informer {

using json = nlohmann::json;
using EncodedObject = std::shared_ptr<const std::string>;

// Encodes an object: MessagePack (20% smaller than compact JSON text), with common Kubernetes keys and strings
// ("metadata", "resourceVersion", "containerStatuses", ...) replaced by two-byte codes (a further 28%).
EncodedObject encodeObject(const json& object);
// Decodes what encodeObject produced. Throws nlohmann::json::parse_error on anything else.
json decodeObject(const std::string& encoded);

}  // namespace mv::runtime::informer
