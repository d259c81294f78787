#include "kube/list_stream.h"

#include <fmt/format.h>

namespace mv::kube {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

}  // namespace

ListStream::ListStream(std::function<bool(const nlohmann::json& page)> onPage,
                       std::function<void(nlohmann::json&& item)> onItem, const JsonFieldFilter* itemFields,
                       ListStreamLimits limits)
    : onPage_(std::move(onPage)), onItem_(std::move(onItem)), itemFields_(itemFields), limits_(limits) {}

void ListStream::fail(const std::string& why) const {
  throw ListStreamError(fmt::format("not a valid list: {} (at byte {})", why, offset_));
}

void ListStream::feed(std::string_view piece) {
  std::size_t i = 0;
  while (i < piece.size()) {
    switch (mode_) {
      case Mode::Held:
        if (held_.size() + (piece.size() - i) > limits_.maxHeldBytes)
          fail(fmt::format("a reply with its metadata after its items is held whole, and this one is over {} bytes",
                           limits_.maxHeldBytes));
        held_.append(piece.substr(i));
        offset_ += piece.size() - i;
        return;
      case Mode::Items:
        if (inItem_) {
          // The item's bytes up to its end or the piece's, appended as one run.
          const std::size_t start = i;
          bool ended = false;
          for (; i < piece.size() && !ended; ++i) {
            const char c = piece[i];
            if (inString_) {
              if (escaped_) escaped_ = false;
              else if (c == '\\') escaped_ = true;
              else if (c == '"') inString_ = false;
            } else if (c == '"') {
              inString_ = true;
            } else if (c == '{' || c == '[') {
              ++depth_;
            } else if (c == '}' || c == ']') {
              if (--depth_ == 2) ended = true;
            }
          }
          if (item_.size() + (i - start) > limits_.maxItemBytes)
            fail(fmt::format("an item over {} bytes", limits_.maxItemBytes));
          item_.append(piece.substr(start, i - start));
          offset_ += i - start;
          if (ended) endItem();
          continue;
        }
        itemsByte(piece[i]);
        ++offset_;
        ++i;
        continue;
      case Mode::Frame:
      case Mode::Done:
        frameByte(piece[i]);
        ++offset_;
        ++i;
        continue;
    }
  }
}

void ListStream::frameByte(char c) {
  if (mode_ == Mode::Done) {
    if (!isSpace(c)) fail("content after the list object");
    return;
  }
  if (!started_) {
    if (isSpace(c)) return;
    if (c != '{') fail("the reply is not a JSON object");
    started_ = true;
    depth_ = 1;
    expectKey_ = true;
    frame_ += c;
    return;
  }
  if (frame_.size() >= limits_.maxFrameBytes)
    fail(fmt::format("the members other than items are over {} bytes", limits_.maxFrameBytes));
  if (inString_) {
    frame_ += c;
    if (escaped_) escaped_ = false;
    else if (c == '\\') escaped_ = true;
    else if (c == '"') inString_ = false;
    if (readingKey_) {
      if (inString_) key_ += c;
      else readingKey_ = false;
    }
    return;
  }
  if (afterItemsKey_ && !isSpace(c)) {
    afterItemsKey_ = false;
    if (c == '[') {
      beginItems();
      return;
    }
  }
  frame_ += c;
  if (c == '"') {
    inString_ = true;
    if (depth_ == 1 && expectKey_) {
      readingKey_ = true;
      expectKey_ = false;
      key_.clear();
    }
  } else if (c == ':' && depth_ == 1) {
    if (key_ == "items") {
      if (sawItems_) fail("a second \"items\"");
      sawItems_ = true;
      afterItemsKey_ = true;
    } else if (key_ == "metadata") {
      sawMetadata_ = true;
    }
    key_.clear();  // a ':' not after a name (invalid) is left to the frame's own parse
  } else if (c == ',' && depth_ == 1) {
    expectKey_ = true;
  } else if (c == '{' || c == '[') {
    ++depth_;
  } else if (c == '}' || c == ']') {
    if (--depth_ == 0) mode_ = Mode::Done;
  }
}

void ListStream::beginItems() {
  if (!sawMetadata_) {
    // Not the API server's order: the page's metadata may follow, and items are handed out after it.
    held_ = frame_ + "[";
    mode_ = Mode::Held;
    return;
  }
  nlohmann::json page = parseJson(frame_ + "null}");
  if (page.is_discarded() || !page.is_object()) fail("invalid JSON before \"items\"");
  page.erase("items");
  pageHandedOut_ = true;
  handItems_ = onPage_(page);
  frame_ += "[]";
  depth_ = 2;
  mode_ = Mode::Items;
  inItem_ = false;
  needComma_ = false;
}

void ListStream::itemsByte(char c) {
  if (isSpace(c)) return;
  if (c == ',') {
    if (!needComma_) fail("a ',' where an item was expected");
    needComma_ = false;
    afterComma_ = true;
    return;
  }
  if (c == ']') {
    if (afterComma_) fail("a ']' after a ','");
    depth_ = 1;
    mode_ = Mode::Frame;
    expectKey_ = false;
    return;
  }
  if (needComma_) fail("a missing ',' between two items");
  afterComma_ = false;
  // An item begins. Kubernetes lists hold objects; an array is read the same way, a scalar is refused (no list of
  // the API has one, and reading one would need a lexer of its own).
  if (c != '{' && c != '[') fail("an item that is not a JSON object");
  inItem_ = true;
  item_.clear();
  item_ += c;
  ++depth_;
}

void ListStream::endItem() {
  nlohmann::json item = parseJson(item_, itemFields_);
  if (item.is_discarded()) fail("an item that is not valid JSON");
  inItem_ = false;
  needComma_ = true;
  item_.clear();
  if (item_.capacity() > (64u << 10)) item_.shrink_to_fit();  // one large object does not stay resident
  if (handItems_) onItem_(std::move(item));
}

void ListStream::finish() {
  if (mode_ == Mode::Held) {
    if (!parseJsonList(held_, onPage_, onItem_, itemFields_)) fail("the reply is not valid JSON");
    held_.clear();
    held_.shrink_to_fit();
    return;
  }
  if (!started_) fail("an empty reply");
  if (mode_ != Mode::Done) fail("the reply ended early");
  nlohmann::json page = parseJson(frame_);
  if (page.is_discarded() || !page.is_object()) fail("invalid JSON outside the items");
  if (pageHandedOut_) return;
  page.erase("items");  // null or not an array: no item to hand out
  onPage_(page);
}

}  // namespace mv::kube
