#pragma once
// Helpers shared by the informer tests: object builders, a polling wait with a real-time deadline, and an event
// handler that records what it is told.

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/informer/event_handler.h"

namespace mv::testing {

using json = nlohmann::json;

// Polls `condition` until it holds or `timeout` of real time passes (never a fixed sleep).
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

inline json makePod(const std::string& ns, const std::string& name, json labels = json::object(),
                    const std::string& ownerKind = "", const std::string& ownerName = "",
                    const std::string& ownerUid = "") {
  json pod = {{"metadata", {{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}}},
              {"spec", {{"nodeName", "node-a"}, {"containers", {{{"name", "app"}, {"image", "busybox"}}}}}},
              {"status", {{"phase", "Running"}}}};
  if (!ownerKind.empty()) {
    pod["metadata"]["ownerReferences"] = {{{"apiVersion", "medivote.io/v1alpha1"},
                                           {"kind", ownerKind},
                                           {"name", ownerName},
                                           {"uid", ownerUid},
                                           {"controller", true},
                                           {"blockOwnerDeletion", true}}};
  }
  return pod;
}

// Records handler calls as "add ns/name", "update ns/name", "delete ns/name" plus the objects seen.
class RecordingHandler {
 public:
  runtime::informer::EventHandler handler() {
    runtime::informer::EventHandler h;
    h.onAdd = [this](const json& o) { note("add", o, nullptr); };
    h.onUpdate = [this](const json& before, const json& after) { note("update", after, &before); };
    h.onDelete = [this](const json& o) { note("delete", o, nullptr); };
    return h;
  }
  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::vector<json> objects() const {
    std::lock_guard<std::mutex> lock(mu_);
    return objects_;
  }
  std::vector<json> previous() const {
    std::lock_guard<std::mutex> lock(mu_);
    return previous_;
  }
  std::size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    events_.clear();
    objects_.clear();
    previous_.clear();
  }

 private:
  void note(const char* what, const json& o, const json* before) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto& meta = o.at("metadata");
    events_.push_back(std::string(what) + " " + meta.value("namespace", "") + "/" + meta.value("name", ""));
    objects_.push_back(o);
    previous_.push_back(before ? *before : json());
  }
  mutable std::mutex mu_;
  std::vector<std::string> events_;
  std::vector<json> objects_;
  std::vector<json> previous_;
};

}  // namespace mv::testing
