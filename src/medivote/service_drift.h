#pragma once
// Service drift: whether the resource's existing Service still routes as the one the operator would build, and the
// patch that makes it so. Pure; the planner asks it on every plan of a valid spec.

#include <optional>

#include <nlohmann/json.hpp>

namespace mv::medivote {

using json = nlohmann::json;

// The merge patch that brings `existing` to `desired` (both Service objects; `desired` as buildService makes it), or
// nullopt when nothing the operator owns differs. Compared: spec.selector, and spec.ports one by one in order by name,
// port, targetPort and protocol (what buildService sets; fields the server adds, such as appProtocol or a nodePort,
// are not the operator's). The patch carries the whole selector and port list: a JSON merge patch replaces a list.
std::optional<json> serviceDrift(const json& existing, const json& desired);

}  // namespace mv::medivote
