#pragma once
// Watch events and the decoder that turns a watch body, arriving in arbitrary pieces, into events.

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kube/json_parse.h"

namespace mv::kube {

using json = nlohmann::json;

struct WatchEvent {
  enum class Type { Added, Modified, Deleted, Bookmark, Error };
  Type type;
  json object;  // the object; for Error, a metav1.Status
};

std::string_view eventTypeName(WatchEvent::Type t);

// Splits a watch body (one JSON object per line, lines split anywhere across pieces) into events. feed() calls
// `onEvent` once per complete line, in order, as soon as the line is complete. Throws TransportError(Protocol) on a
// line that is not a JSON watch event (unknown type, missing object, malformed JSON). finish() throws
// TransportError(Protocol) when the body ended in the middle of a line.
// With `objectFields`, the objects of ADDED, MODIFIED and DELETED events are built with only what it keeps
// (json_parse.h); BOOKMARK and ERROR objects are always whole.
class WatchDecoder {
 public:
  static constexpr std::size_t kDefaultMaxLineBytes = 16u << 20;  // one event; etcd refuses objects over 1.5 MiB
  explicit WatchDecoder(std::function<void(WatchEvent&&)> onEvent, std::size_t maxLineBytes = kDefaultMaxLineBytes,
                        const JsonFieldFilter* objectFields = nullptr);
  void feed(std::string_view piece);
  void finish() const;

 private:
  void decodeLine(std::string_view line);
  std::function<void(WatchEvent&&)> onEvent_;
  std::size_t maxLineBytes_;
  const JsonFieldFilter* objectFields_;
  std::string partial_;
};

}  // namespace mv::kube
