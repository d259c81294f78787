#include "medivote/name_conflicts.h"

#include <fmt/format.h>

#include "api/names.h"

namespace mv::medivote {
namespace {

std::optional<json> controllerOf(const json& object) {
  const json refs = object.value("/metadata/ownerReferences"_json_pointer, json::array());
  if (!refs.is_array()) return std::nullopt;
  for (const auto& r : refs)
    if (r.is_object() && r.value("controller", false)) return r;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> claimHolder(const json& claim, const api::MediVoteService& mvs) {
  if (const auto c = controllerOf(claim); c && c->value("uid", "") != mvs.uid)
    return fmt::format("{} {}", c->value("kind", "object"), c->value("name", ""));
  const json labels = claim.value("/metadata/labels"_json_pointer, json::object());
  const std::string label(api::kLabelService);
  if (labels.is_object() && labels.contains(label) && labels[label].is_string() &&
      labels[label].get<std::string>() != mvs.name)
    return fmt::format("MediVoteService {}", labels[label].get<std::string>());
  return std::nullopt;
}

std::string podHolder(const json& pod) {
  if (const auto c = controllerOf(pod)) return fmt::format("{} {}", c->value("kind", "object"), c->value("name", ""));
  return "no controller";
}

void NameConflicts::record(const std::string& owner, Kind kind, const std::string& name, Held held) {
  std::lock_guard<std::mutex> g(mu_);
  held_[{owner, kind, name}] = std::move(held);
}

void NameConflicts::release(const std::string& owner, Kind kind, const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  held_.erase({owner, kind, name});
}

std::map<std::string, NameConflicts::Held> NameConflicts::held(const std::string& owner, Kind kind) const {
  std::lock_guard<std::mutex> g(mu_);
  std::map<std::string, Held> out;
  for (auto it = held_.lower_bound({owner, kind, ""}); it != held_.end(); ++it) {
    const auto& [o, k, name] = it->first;
    if (o != owner || k != kind) break;
    out.emplace(name, it->second);
  }
  return out;
}

std::optional<util::Clock::TimePoint> NameConflicts::nextCheck(const std::string& owner) const {
  std::lock_guard<std::mutex> g(mu_);
  std::optional<util::Clock::TimePoint> first;
  for (auto it = held_.lower_bound({owner, Kind::Pod, ""}); it != held_.end() && std::get<0>(it->first) == owner;
       ++it) {
    const auto at = it->second.checkedAt + kRecheck;
    if (!first || at < *first) first = at;
  }
  return first;
}

void NameConflicts::forget(const std::string& owner) {
  std::lock_guard<std::mutex> g(mu_);
  for (auto it = held_.lower_bound({owner, Kind::Pod, ""}); it != held_.end() && std::get<0>(it->first) == owner;)
    it = held_.erase(it);
}

void NameConflicts::retain(const std::set<std::string>& owners) {
  std::lock_guard<std::mutex> g(mu_);
  for (auto it = held_.begin(); it != held_.end();)
    it = owners.count(std::get<0>(it->first)) ? std::next(it) : held_.erase(it);
}

std::size_t NameConflicts::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return held_.size();
}

}  // namespace mv::medivote
