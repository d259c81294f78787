#pragma once
// JSON text to nlohmann::json through simdjson: the API server's replies (lists, objects, Status) and watch events are
// parsed here.
//
// Why: nlohmann's parser reads a character at a time, and its lexer was the largest item of the operator's CPU profile
// while it synced 10,000 pods (bench/README.md, "Cache sync CPU"). simdjson validates and indexes the text with SIMD
// instructions at gigabytes per second; the tree is then built from its index without lexing again.
//
// Contract of parseJson(text):
// - Returns what nlohmann::json::parse(text) returns for the same text: objects keep the last of duplicate keys (in
//   nlohmann's own order), non-negative integers are number_unsigned, negative ones number_integer, the rest
//   number_float.
// - Returns a discarded value (is_discarded()) where nlohmann's parser would throw: invalid JSON, invalid UTF-8,
//   content after the value, empty input. Also, unlike nlohmann, for integers beyond 64 bits and nesting deeper than
//   1,024 levels (simdjson's limits; no Kubernetes object comes near either).
// - Thread-safe and never throws for any input (std::bad_alloc aside). Small documents (watch events, single
//   objects) reuse a per-thread parser; large ones (list pages) get a parser of their own, freed on return, so that no
//   thread keeps a list page's worth of buffers.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mv::kube {

// Which members of an object to build (parseJsonList's items): an object keeps only the members named in `keep`; a
// name mapped to nullptr keeps its whole value, one mapped to a filter keeps what that filter keeps of it. A filter
// applies to every element of an array (and means nothing to a scalar). A member not named is never built.
struct JsonFieldFilter {
  std::map<std::string, std::shared_ptr<const JsonFieldFilter>, std::less<>> keep;
};

nlohmann::json parseJson(std::string_view text);
// The same, building only what `fields` keeps of the value (all of it when null).
nlohmann::json parseJson(std::string_view text, const JsonFieldFilter* fields);

// One watch event line, its object built with `objectFields` only where it is an object of the watched resource
// (ADDED, MODIFIED, DELETED), whole otherwise (a BOOKMARK's annotations, an ERROR's Status). `valid` is false where
// parseJson would give a discarded value or a non-object; `type` is empty unless a string; `object` is null unless an
// object. Of duplicate keys, the last counts.
struct ParsedWatchEvent {
  bool valid = false;
  std::string type;
  nlohmann::json object;
};
ParsedWatchEvent parseWatchEvent(std::string_view line, const JsonFieldFilter* objectFields);

// A list reply in pieces (Client::listPage): the text is parsed and checked whole first; then `onPage` gets the
// top-level object without its "items" key, and, if it returns true and "items" is an array, `onItem` gets each
// element in order, built as nlohmann::json just before it is handed out (as parseJson would build it). Returns false,
// calling nothing, when the text is not valid JSON or not an object. Exceptions from the callbacks propagate.
// With `itemFields`, each item is built with only the members it keeps (the rest of the page whole).
bool parseJsonList(std::string_view text, const std::function<bool(const nlohmann::json& page)>& onPage,
                   const std::function<void(nlohmann::json&& item)>& onItem,
                   const JsonFieldFilter* itemFields = nullptr);

}  // namespace mv::kube
