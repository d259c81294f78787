#include "runtime/informer/object_codec.h"

namespace mv::runtime::informer {

EncodedObject encodeObject(const json& object) {
  std::string bytes;
  json::to_msgpack(object, bytes);
  bytes.shrink_to_fit();
  return std::make_shared<const std::string>(std::move(bytes));
}

json decodeObject(const std::string& encoded) { return json::from_msgpack(encoded); }

}  // namespace mv::runtime::informer
