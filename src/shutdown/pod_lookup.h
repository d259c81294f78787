#pragma once
// Where a pod is now, as the operator's informer cache has it: the runner re-checks a call's target right before the
// call (issue 15 item 2), since a queued call may wait while the pod is deleted, replaced by a pod of the same name,
// or given another IP.

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace mv::shutdown {

struct PodIdentity {
  std::string uid;
  std::string ip;  // status.podIP; "" when the pod has none
};

// The identity of a pod object (metadata.uid, status.podIP).
PodIdentity podIdentityOf(const nlohmann::json& pod);

class PodLookup {
 public:
  virtual ~PodLookup() = default;
  // The pod now named `ns`/`name`; nullopt when there is none. Thread-safe.
  virtual std::optional<PodIdentity> find(const std::string& ns, const std::string& name) const = 0;
};

// A PodLookup over a cache read by "namespace/name" key (e.g. an informer store's get).
class CachePodLookup final : public PodLookup {
 public:
  using Get = std::function<std::optional<nlohmann::json>(const std::string& key)>;
  explicit CachePodLookup(Get get) : get_(std::move(get)) {}
  std::optional<PodIdentity> find(const std::string& ns, const std::string& name) const override;

 private:
  Get get_;
};

}  // namespace mv::shutdown
