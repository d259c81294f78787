#include "kube/json_parse.h"

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>

namespace mv::kube {
namespace {

using nlohmann::json;

// Documents up to this size are parsed by the thread's own parser, whose buffers stay allocated between calls.
constexpr std::size_t kReusedParserMaxBytes = 64 * 1024;

// `filter`: null builds everything below `e`.
json build(simdjson::dom::element e, const JsonFieldFilter* filter = nullptr) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      json out = json::object();
      for (simdjson::dom::key_value_pair field : simdjson::dom::object(e)) {
        const JsonFieldFilter* child = nullptr;
        if (filter) {
          auto it = filter->keep.find(field.key);
          if (it == filter->keep.end()) continue;  // not kept: never built
          child = it->second.get();
        }
        out[std::string(field.key)] = build(field.value, child);  // a later duplicate replaces, as nlohmann's does
      }
      return out;
    }
    case simdjson::dom::element_type::ARRAY: {
      json out = json::array();
      simdjson::dom::array items(e);
      out.get_ref<json::array_t&>().reserve(items.size());
      for (simdjson::dom::element item : items) out.push_back(build(item, filter));
      return out;
    }
    case simdjson::dom::element_type::STRING:
      return json(std::string(std::string_view(e)));
    case simdjson::dom::element_type::INT64: {
      const std::int64_t v = int64_t(e);
      if (v >= 0) return json(static_cast<std::uint64_t>(v));  // nlohmann: number_unsigned for non-negative
      return json(v);
    }
    case simdjson::dom::element_type::UINT64:
      return json(uint64_t(e));
    case simdjson::dom::element_type::DOUBLE:
      return json(double(e));
    case simdjson::dom::element_type::BOOL:
      return json(bool(e));
    case simdjson::dom::element_type::NULL_VALUE:
      return json(nullptr);
  }
  return json(nullptr);
}

// realloc_if_needed: simdjson reads up to SIMDJSON_PADDING bytes past the end, so the text is copied into a padded
// buffer where it has none (text from a std::string or a watch stream has no such guarantee).
bool parseInto(simdjson::dom::parser& parser, std::string_view text, simdjson::dom::element& root) {
  return parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(root) == simdjson::SUCCESS;
}

json parseWith(simdjson::dom::parser& parser, std::string_view text, const JsonFieldFilter* fields) {
  simdjson::dom::element root;
  if (!parseInto(parser, text, root)) return json(json::value_t::discarded);
  return build(root, fields);
}

// Runs `use` with the parser for a document of `size` bytes: the thread's reused one for small documents, one of its
// own (freed on return) for large ones, so that no thread keeps a list page's worth of buffers.
template <typename Use>
auto withParserFor(std::size_t size, Use&& use) {
  if (size <= kReusedParserMaxBytes) {
    thread_local simdjson::dom::parser reused;
    return use(reused);
  }
  simdjson::dom::parser own;
  return use(own);
}

}  // namespace

json parseJson(std::string_view text) { return parseJson(text, nullptr); }

json parseJson(std::string_view text, const JsonFieldFilter* fields) {
  try {
    return withParserFor(text.size(), [&](simdjson::dom::parser& parser) { return parseWith(parser, text, fields); });
  } catch (const simdjson::simdjson_error&) {  // not expected once parse() succeeded; never let one escape
    return json(json::value_t::discarded);
  }
}

ParsedWatchEvent parseWatchEvent(std::string_view line, const JsonFieldFilter* objectFields) {
  try {
    return withParserFor(line.size(), [&](simdjson::dom::parser& parser) {
      ParsedWatchEvent out;
      simdjson::dom::element root;
      if (!parseInto(parser, line, root) || root.type() != simdjson::dom::element_type::OBJECT) return out;
      out.valid = true;
      std::optional<simdjson::dom::element> type, object;
      for (simdjson::dom::key_value_pair field : simdjson::dom::object(root)) {
        if (field.key == "type") type = field.value;
        else if (field.key == "object") object = field.value;
      }
      if (type && type->type() == simdjson::dom::element_type::STRING) out.type = std::string(std::string_view(*type));
      if (object && object->type() == simdjson::dom::element_type::OBJECT) {
        const bool ofTheResource = out.type == "ADDED" || out.type == "MODIFIED" || out.type == "DELETED";
        out.object = build(*object, ofTheResource ? objectFields : nullptr);
      }
      return out;
    });
  } catch (const simdjson::simdjson_error&) {  // not expected once parse() succeeded
    return ParsedWatchEvent{};
  }
}

bool parseJsonList(std::string_view text, const std::function<bool(const json& page)>& onPage,
                   const std::function<void(json&& item)>& onItem, const JsonFieldFilter* itemFields) {
  simdjson::dom::parser parser;  // its own: the document stays parsed while the callbacks run
  simdjson::dom::element root;
  if (!parseInto(parser, text, root) || root.type() != simdjson::dom::element_type::OBJECT) return false;
  json page = json::object();
  simdjson::dom::element items;
  bool hasItems = false;
  for (simdjson::dom::key_value_pair field : simdjson::dom::object(root)) {
    if (field.key == "items") {
      items = field.value;  // the last "items", as with duplicate keys elsewhere
      hasItems = true;
    } else {
      page[std::string(field.key)] = build(field.value);
    }
  }
  if (!onPage(page) || !hasItems || items.type() != simdjson::dom::element_type::ARRAY) return true;
  for (simdjson::dom::element item : simdjson::dom::array(items)) onItem(build(item, itemFields));
  return true;
}

}  // namespace mv::kube
