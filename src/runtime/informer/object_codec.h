#pragma once
// How the cache keeps an object in memory: encoded, immutable and shared, decoded on every read.
//
// Why encoded (measured with g++ 12 -O2, nlohmann 3.11, a kubelet-style pod, tests/unit/runtime/informer/
// realistic_pod.h): the pod is 5,557 bytes of JSON text; projected for the operator (projectPodForOperator) 1,105
// bytes of text, but 8.1 kB of heap as an nlohmann::json tree (a node per value, a std::map per object). Encoded as
// below it is 647 bytes; with its key and index entries the store holds 10,000 such pods in ~11 MB of heap,
// against ~81 MB for trees. A read pays a decode (~10-20 us per pod). Encoded objects are shared (std::shared_ptr)
// so that a relist's change list and concurrent readers never copy them.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mv::runtime::informer {

using json = nlohmann::json;

// The bytes of one encoded object: immutable, shared, and held in a single allocation with their length and the
// reference counts (std::make_shared of an array). Null until assigned. Copies share the bytes; nothing can change
// them. Why one allocation: a std::shared_ptr<const std::string> costs two (48 bytes of control block and string
// object, then the bytes, each rounded up to the allocator's size class). Measured with bench/sync_vs_peer.py
// (10,000 pods + 1,000 MediVoteServices): steady RssAnon 12.2 -> 11.8 MB.
class EncodedObject {
 public:
  EncodedObject() = default;
  EncodedObject(std::nullptr_t) {}  // NOLINT: reads as a null pointer at call sites ({key, nullptr, data})
  // A shared copy of `bytes`. Throws std::length_error over 4 GiB.
  static EncodedObject copyOf(std::string_view bytes);

  explicit operator bool() const { return block_ != nullptr; }
  // The bytes; empty for a null object. Valid while this or a copy of it lives.
  std::string_view bytes() const;
  std::size_t size() const { return bytes().size(); }
  // Same bytes (two null objects are equal; a null one equals no other).
  friend bool operator==(const EncodedObject& a, const EncodedObject& b);

 private:
  static constexpr std::size_t kHeader = sizeof(std::uint32_t);  // the length, then the bytes
  std::shared_ptr<const char[]> block_;
};

// Encodes an object: MessagePack (20% smaller than compact JSON text), with common Kubernetes keys and strings
// ("metadata", "resourceVersion", "containerStatuses", ...) replaced by two-byte codes (a further 28%).
EncodedObject encodeObject(const json& object);
// Decodes what encodeObject produced. Throws nlohmann::json::parse_error on anything else (a null object included).
json decodeObject(std::string_view encoded);
json decodeObject(const EncodedObject& encoded);

}  // namespace mv::runtime::informer
