#pragma once
// A list reply parsed as it arrives (RestClient::listPage). The API server answers a list with resourceVersion=0 from
// its watch cache, all of it in one response whatever the limit (tens of MB for 10,000 pods, ../shared/k8s-reference/
// edge-cases-2026-12.md): ListStream hands out each item as soon as its last byte has arrived, so neither the whole
// body nor a tree of it is ever held, only the item being read.
//
// Contract:
// - feed() takes the body's pieces in order (split anywhere, even inside a string or an escape); finish() ends it.
// - onPage gets the top-level object's members that come before "items" (built as parseJson builds them), once
//   "items" starts; if it returns false the items are still read and checked, but not handed out. onItem then gets
//   each element of "items" in order, built with `itemFields` (parseJson's filter). A reply without "items", or with
//   a non-array "items", gets onPage from finish() with every member, and no item.
// - The API server writes "metadata" before "items". A reply that does not (valid JSON all the same) is held whole
//   and handed out by finish(), as parseJsonList does, within maxHeldBytes.
// - Errors throw ListStreamError from feed() or finish(): not a JSON object, invalid JSON (an item, a member, what
//   separates them), an item that is not an object or array (no list of the API has one), a second "items", an item over maxItemBytes, content after the object, or a body that ended
//   early. Callbacks may have run before an error: the caller abandons what it got (a ReflectorSink's incomplete list).
// - Not thread-safe; callbacks run on the caller's thread, inside feed() or finish(); their exceptions propagate.

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kube/json_parse.h"

namespace mv::kube {

class ListStreamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ListStreamLimits {
  std::size_t maxItemBytes = 16u << 20;   // one object; etcd's own limit is 1.5 MiB
  std::size_t maxFrameBytes = 1u << 20;   // the members other than items (kind, apiVersion, metadata)
  std::size_t maxHeldBytes = 64u << 20;   // a reply held whole (metadata after items); the transport's body limit
};

class ListStream {
 public:
  ListStream(std::function<bool(const nlohmann::json& page)> onPage, std::function<void(nlohmann::json&& item)> onItem,
             const JsonFieldFilter* itemFields = nullptr, ListStreamLimits limits = {});

  void feed(std::string_view piece);
  void finish();

 private:
  enum class Mode { Frame, Items, Held, Done };
  void frameByte(char c);
  void itemsByte(char c);
  void beginItems();
  void endItem();
  [[noreturn]] void fail(const std::string& why) const;

  std::function<bool(const nlohmann::json&)> onPage_;
  std::function<void(nlohmann::json&&)> onItem_;
  const JsonFieldFilter* itemFields_;
  ListStreamLimits limits_;

  Mode mode_ = Mode::Frame;
  std::string frame_;  // the top-level text read so far, items' contents left out ("items":[] stays)
  std::string held_;   // Held: the whole reply
  std::string item_;   // the item being read
  std::size_t offset_ = 0;  // bytes fed so far (for error messages)

  // The lexer state, shared by the frame and the items.
  bool inString_ = false;
  bool escaped_ = false;
  int depth_ = 0;  // nesting of objects and arrays, the top-level object being 1

  // Frame: the top-level members.
  bool started_ = false;     // the top-level '{' was read
  bool expectKey_ = false;   // at depth 1, the next string is a member name
  bool readingKey_ = false;  // that name is being read into key_
  std::string key_;
  bool afterItemsKey_ = false;  // "items" and its ':' read, its value not begun
  bool sawItems_ = false;
  bool sawMetadata_ = false;
  bool pageHandedOut_ = false;
  bool handItems_ = false;  // onPage answered true

  // Items: the array at depth 2.
  bool inItem_ = false;
  bool needComma_ = false;   // an item ended: a ',' or the ']' comes next
  bool afterComma_ = false;  // a ',' was read: an item comes next
};

}  // namespace mv::kube
