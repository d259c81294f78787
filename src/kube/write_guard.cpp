#include "kube/write_guard.h"

#include <fmt/format.h>

#include "util/log.h"

namespace mv::kube {

WriteGuardedClient::WriteGuardedClient(Client& inner, Permit permit, std::string why)
    : inner_(inner), permit_(std::move(permit)), why_(std::move(why)) {}

void WriteGuardedClient::check(const char* verb, const Resource& r, const std::string& name) {
  if (!permit_ || permit_()) return;
  ++refused_;
  const std::string message = fmt::format("{} {} {} refused: {}", verb, r.resource, name, why_);
  log::warn("write refused", {{"verb", verb}, {"resource", r.resource}, {"name", name}, {"why", why_}});
  throw TransportError(TransportError::Kind::Cancelled, message);
}

long WriteGuardedClient::refused() const { return refused_.load(); }

json WriteGuardedClient::get(const Resource& r, const std::string& ns, const std::string& name,
                             const std::string& subresource) {
  return inner_.get(r, ns, name, subresource);
}

json WriteGuardedClient::list(const Resource& r, const std::string& ns, const ListOptions& options) {
  return inner_.list(r, ns, options);
}

json WriteGuardedClient::create(const Resource& r, const std::string& ns, const json& object, const WriteOptions& w) {
  check("create", r, object.value("/metadata/name"_json_pointer, std::string()));
  return inner_.create(r, ns, object, w);
}

json WriteGuardedClient::update(const Resource& r, const std::string& ns, const json& object,
                                const std::string& subresource, const WriteOptions& w) {
  check("update", r, object.value("/metadata/name"_json_pointer, std::string()));
  return inner_.update(r, ns, object, subresource, w);
}

json WriteGuardedClient::patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type,
                               const json& patch, const std::string& subresource, const WriteOptions& w) {
  check("patch", r, name);
  return inner_.patch(r, ns, name, type, patch, subresource, w);
}

json WriteGuardedClient::remove(const Resource& r, const std::string& ns, const std::string& name,
                                const DeleteOptions& options) {
  check("delete", r, name);
  return inner_.remove(r, ns, name, options);
}

json WriteGuardedClient::createSubresource(const Resource& r, const std::string& ns, const std::string& name,
                                           const std::string& subresource, const json& body, const WriteOptions& w) {
  check("create", r, name + "/" + subresource);
  return inner_.createSubresource(r, ns, name, subresource, body, w);
}

void WriteGuardedClient::watch(const Resource& r, const std::string& ns, const WatchOptions& options,
                               const std::function<void(const WatchEvent&)>& onEvent, CancelToken& cancel) {
  inner_.watch(r, ns, options, onEvent, cancel);
}

}  // namespace mv::kube
