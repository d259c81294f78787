#pragma once
// How the cache keeps an object in memory: encoded, immutable and shared, decoded on every read.
//
// Why encoded: an nlohmann::json tree costs several times the size of the object's text (a node per value, a
// std::map per object). Measured for a projected pod (see docs in store.h): the encoded form is what keeps 10,000
// pods within the operator's memory budget. Encoded objects are shared (std::shared_ptr) so that a relist's change
// list and concurrent readers never copy them.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace mv::runtime::informer {

using json = nlohmann::json;
using EncodedObject = std::shared_ptr<const std::string>;

// Encodes an object (MessagePack: ~10-20% smaller than compact JSON text and faster to decode).
EncodedObject encodeObject(const json& object);
// Decodes what encodeObject produced. Throws nlohmann::json::parse_error on anything else.
json decodeObject(const std::string& encoded);

}  // namespace mv::runtime::informer
