#pragma once
// What the shutdown endpoints' answers said is wrong with a resource's configuration (401, 403, another 4xx: see
// afterAnswer), held for as long as its cause may still be there, so that the resource stays Degraded
// (ShutdownMisconfigured) exactly that long. It clears when the cause is gone:
// - an endpoint of the resource accepted a shutdown (the configuration works again), or
// - the configuration the failing call was made with changed: its ConfigVersion (the resource's uid, its spec
//   generation and the resourceVersion of its token Secret) differs from the one the reconcile now sees.
//
// Contract:
// - One entry per resource seen, released by forget() when the resource is gone (or by retain() when it is not
//   among the resources that exist, should its deletion have gone unseen): memory does not grow with resources
//   created and deleted over time.
// - The first time a resource is seen (an operator start, a new leader), what its status already reports for its
//   current generation is adopted as if reported under the current ConfigVersion: a restart neither clears a
//   condition whose cause is still there nor keeps one past the next change.
// - Only messages written by afterAnswer are kept: they name the pod, the answer and the fields to check, never a
//   token.
// Thread-safe.

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace mv::shutdown {

// Identifies the configuration an endpoint call was made with. Opaque; compared for equality only.
struct ConfigVersion {
  std::string uid;
  long long generation = 0;
  std::string tokenSecretVersion;  // "" when the endpoint uses no token Secret, or it was missing
  bool operator==(const ConfigVersion& o) const {
    return uid == o.uid && generation == o.generation && tokenSecretVersion == o.tokenSecretVersion;
  }
  bool operator!=(const ConfigVersion& o) const { return !(*this == o); }
};

class MisconfigurationMemory {
 public:
  // An answer to a call made under `version` said the configuration of `owner` is wrong.
  void reported(const std::string& owner, const ConfigVersion& version, std::string message);
  // An endpoint of `owner` accepted a shutdown.
  void accepted(const std::string& owner);
  // The misconfiguration in force for `owner`, seen now under `version`. `alreadyReported` is the message of the
  // resource's Degraded=True ShutdownMisconfigured condition for its current generation, if any.
  std::optional<std::string> current(const std::string& owner, const ConfigVersion& version,
                                     const std::optional<std::string>& alreadyReported);
  // `owner` is gone.
  void forget(const std::string& owner);
  // Every owner not in `owners` is gone.
  void retain(const std::set<std::string>& owners);
  std::size_t size() const;

 private:
  struct Entry {
    std::optional<std::string> message;
    ConfigVersion version;  // of the call whose answer reported it
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // by owner key ("namespace/name")
};

}  // namespace mv::shutdown
