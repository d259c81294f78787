#pragma once
// A Client that lets writes through only while a permit holds: the operator's writes go through one, asking the
// leader elector whether the lease is still held (LeaderElector::leaseHeld), so that a replica that lost its lease,
// or paused past it, makes no write before it has renewed (issue 15 item 3).
//
// Contract:
// - Reads (get, list, watch) always pass.
// - create, update, patch, remove and createSubresource ask `permit` right before the request; when it says no, the
//   request is not sent and TransportError(Cancelled, "... refused: ...") is thrown, which callers treat like any
//   failed request (a reconcile is retried with back-off; by then the manager has stopped it).
// - The guard narrows, and cannot close, the window leases leave: a write that passed the check just before a pause
//   is still sent after it. Writes that act on possibly stale state therefore also carry preconditions (uid on pod
//   deletes and state patches, resourceVersion on updates).

#include <atomic>
#include <functional>
#include <string>

#include "kube/client.h"

namespace mv::kube {

class WriteGuardedClient final : public Client {
 public:
  using Permit = std::function<bool()>;
  // `why` names the permit in the refusal, e.g. "the leader lease is not held". `inner` must outlive this.
  WriteGuardedClient(Client& inner, Permit permit, std::string why);

  json get(const Resource& r, const std::string& ns, const std::string& name,
           const std::string& subresource = "") override;
  json list(const Resource& r, const std::string& ns, const ListOptions& options = {}) override;
  json create(const Resource& r, const std::string& ns, const json& object, const WriteOptions& w = {}) override;
  json update(const Resource& r, const std::string& ns, const json& object, const std::string& subresource = "",
              const WriteOptions& w = {}) override;
  json patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type, const json& patch,
             const std::string& subresource = "", const WriteOptions& w = {}) override;
  json remove(const Resource& r, const std::string& ns, const std::string& name,
              const DeleteOptions& options = {}) override;
  json createSubresource(const Resource& r, const std::string& ns, const std::string& name,
                         const std::string& subresource, const json& body, const WriteOptions& w = {}) override;
  void watch(const Resource& r, const std::string& ns, const WatchOptions& options,
             const std::function<void(const WatchEvent&)>& onEvent, CancelToken& cancel) override;

  // Writes refused so far.
  long refused() const;

 private:
  void check(const char* verb, const Resource& r, const std::string& name);
  Client& inner_;
  Permit permit_;
  std::string why_;
  std::atomic<long> refused_{0};
};

}  // namespace mv::kube
