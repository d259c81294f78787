#include "kube/watch.h"

#include <fmt/format.h>

#include "kube/errors.h"
#include "kube/json_parse.h"

namespace mv::kube {

std::string_view eventTypeName(WatchEvent::Type t) {
  switch (t) {
    case WatchEvent::Type::Added: return "ADDED";
    case WatchEvent::Type::Modified: return "MODIFIED";
    case WatchEvent::Type::Deleted: return "DELETED";
    case WatchEvent::Type::Bookmark: return "BOOKMARK";
    case WatchEvent::Type::Error: return "ERROR";
  }
  return "UNKNOWN";
}

WatchDecoder::WatchDecoder(std::function<void(WatchEvent&&)> onEvent, std::size_t maxLineBytes,
                           const JsonFieldFilter* objectFields)
    : onEvent_(std::move(onEvent)), maxLineBytes_(maxLineBytes), objectFields_(objectFields) {}

void WatchDecoder::feed(std::string_view piece) {
  while (!piece.empty()) {
    const auto nl = piece.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(piece);
      if (partial_.size() > maxLineBytes_)
        throw TransportError(TransportError::Kind::Protocol,
                             fmt::format("a watch event is larger than {} bytes", maxLineBytes_));
      return;
    }
    if (partial_.empty()) {
      decodeLine(piece.substr(0, nl));
    } else {
      partial_.append(piece.substr(0, nl));
      std::string line;
      line.swap(partial_);
      decodeLine(line);
    }
    piece.remove_prefix(nl + 1);
  }
}

void WatchDecoder::finish() const {
  if (partial_.find_first_not_of(" \t\r") != std::string::npos)
    throw TransportError(TransportError::Kind::Protocol,
                         fmt::format("the watch stream ended in the middle of an event ({} bytes unterminated)",
                                     partial_.size()));
}

void WatchDecoder::decodeLine(std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
  ParsedWatchEvent doc = parseWatchEvent(line, objectFields_);
  if (!doc.valid) throw TransportError(TransportError::Kind::Protocol, "a watch event is not valid JSON");
  if (doc.type.empty() || !doc.object.is_object())
    throw TransportError(TransportError::Kind::Protocol, "a watch event lacks its type or object");
  const std::string& type = doc.type;
  WatchEvent ev{WatchEvent::Type::Added, std::move(doc.object)};
  if (type == "ADDED") ev.type = WatchEvent::Type::Added;
  else if (type == "MODIFIED") ev.type = WatchEvent::Type::Modified;
  else if (type == "DELETED") ev.type = WatchEvent::Type::Deleted;
  else if (type == "BOOKMARK") ev.type = WatchEvent::Type::Bookmark;
  else if (type == "ERROR") ev.type = WatchEvent::Type::Error;
  else throw TransportError(TransportError::Kind::Protocol, fmt::format("unknown watch event type '{}'", type));
  onEvent_(std::move(ev));
}

}  // namespace mv::kube
