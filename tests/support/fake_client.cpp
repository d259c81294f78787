#include "support/fake_client.h"

#include <algorithm>
#include <sstream>

namespace mv::testing {

namespace {

std::string keyOf(const std::string& ns, const std::string& name) { return ns.empty() ? name : ns + "/" + name; }

std::string metaString(const json& object, const char* field) {
  if (!object.is_object()) return {};
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return {};
  auto it = meta->find(field);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Equality terms only ("k=v", "k==v", comma-separated); other terms are ignored.
bool matchesLabels(const json& object, const std::string& selector) {
  if (selector.empty()) return true;
  std::stringstream terms(selector);
  std::string term;
  const json labels = object.contains("metadata") ? object["metadata"].value("labels", json::object())
                                                  : json::object();
  while (std::getline(terms, term, ',')) {
    auto eq = term.find('=');
    if (eq == std::string::npos || (eq > 0 && term[eq - 1] == '!')) continue;
    std::string key = term.substr(0, eq);
    std::string value = term.substr(term[eq + 1] == '=' ? eq + 2 : eq + 1);
    auto it = labels.find(key);
    if (it == labels.end() || !it->is_string() || it->get<std::string>() != value) return false;
  }
  return true;
}

std::string resourceNameOf(const kube::Resource& r) { return r.qualifiedName(); }

}  // namespace

kube::ApiError apiError(int code, kube::StatusReason reason, const std::string& message) {
  json status = {{"kind", "Status"}, {"apiVersion", "v1"},     {"metadata", json::object()},
                 {"status", "Failure"}, {"message", message}, {"reason", std::string(kube::reasonName(reason))},
                 {"code", code}};
  return kube::ApiError(code, reason, message, status);
}

kube::ApiError goneError() {
  return apiError(410, kube::StatusReason::Expired, "too old resource version: 458 (679)");
}
kube::ApiError conflictError() {
  return apiError(409, kube::StatusReason::Conflict,
                  "Operation cannot be fulfilled: the object has been modified; please apply your changes to the "
                  "latest version and try again");
}
kube::ApiError uidImmutableError(const std::string& what, const std::string& sentUid) {
  const std::string cause = "Invalid value: \"" + sentUid + "\": field is immutable";
  kube::ApiError base = apiError(422, kube::StatusReason::Invalid, what + " is invalid: metadata.uid: " + cause);
  json status = base.status();
  status["details"] = {{"causes", json::array({{{"reason", "FieldValueInvalid"}, {"message", cause}, {"field", "metadata.uid"}},
                                               {{"reason", "FieldValueInvalid"}, {"message", cause}, {"field", "metadata.uid"}}})}};
  return kube::ApiError(422, kube::StatusReason::Invalid, base.message(), status);
}
kube::ApiError internalError() { return apiError(500, kube::StatusReason::InternalError, "Internal error occurred"); }
kube::ApiError notFoundError(const std::string& what) {
  return apiError(404, kube::StatusReason::NotFound, what + " not found");
}
kube::ApiError alreadyExistsError(const std::string& what) {
  return apiError(409, kube::StatusReason::AlreadyExists, what + " already exists");
}

kube::WatchEvent goneEvent() {
  return {kube::WatchEvent::Type::Error,
          {{"kind", "Status"},
           {"apiVersion", "v1"},
           {"metadata", json::object()},
           {"status", "Failure"},
           {"message", "too old resource version: 458 (679)"},
           {"reason", "Expired"},
           {"code", 410}}};
}

// ---------------------------------------------------------------------------------------------------------------
// FakeWatchStream

void FakeWatchStream::push(Item item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(item));
    ++pushed_;
  }
  changed_.notify_all();
}

void FakeWatchStream::send(kube::WatchEvent::Type type, json object) {
  Item item;
  item.event = kube::WatchEvent{type, std::move(object)};
  push(std::move(item));
}

void FakeWatchStream::bookmark(const std::string& resourceVersion) {
  send(kube::WatchEvent::Type::Bookmark,
       {{"metadata", {{"resourceVersion", resourceVersion}, {"creationTimestamp", nullptr}}}});
}

void FakeWatchStream::close() {
  Item item;
  item.close = true;
  push(std::move(item));
}

void FakeWatchStream::fail(std::exception_ptr error) {
  Item item;
  item.error = std::move(error);
  push(std::move(item));
}

bool FakeWatchStream::active() const {
  std::lock_guard<std::mutex> lock(mu_);
  return active_;
}

bool FakeWatchStream::awaitDone(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return !active_; });
}

bool FakeWatchStream::awaitDelivered(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return delivered_ >= pushed_ || !active_; });
}

void FakeWatchStream::serve(const std::function<void(const kube::WatchEvent&)>& onEvent, kube::CancelToken& cancel) {
  const int subscription = cancel.subscribe([this] {
    std::lock_guard<std::mutex> lock(mu_);
    changed_.notify_all();
  });
  auto finish = [&] {
    cancel.unsubscribe(subscription);
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_ = false;
      delivered_ = pushed_;
    }
    changed_.notify_all();
  };
  try {
    while (true) {
      Item item;
      {
        std::unique_lock<std::mutex> lock(mu_);
        changed_.wait(lock, [&] { return !queue_.empty() || cancel.cancelled(); });
        if (cancel.cancelled()) {
          throw kube::TransportError(kube::TransportError::Kind::Cancelled, "watch cancelled");
        }
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      if (item.close) break;
      if (item.error) std::rethrow_exception(item.error);
      if (item.event->type == kube::WatchEvent::Type::Error) throw kube::apiErrorFromStatus(item.event->object);
      onEvent(*item.event);
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++delivered_;
      }
      changed_.notify_all();
    }
  } catch (...) {
    finish();
    throw;
  }
  finish();
}

// ---------------------------------------------------------------------------------------------------------------
// FakeClient: state and scripting

std::string FakeClient::nextResourceVersionLocked() { return std::to_string(++resourceVersion_); }

json FakeClient::storeLocked(const kube::Resource& r, json object, bool created) {
  auto& meta = object["metadata"];
  if (created) {
    if (!meta.contains("uid")) meta["uid"] = "uid-" + std::to_string(++uidCounter_);
    if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = "2026-11-25T20:00:00Z";
  }
  if (!r.namespaced) meta.erase("namespace");
  meta["resourceVersion"] = nextResourceVersionLocked();
  object["kind"] = r.kind;
  object["apiVersion"] = r.apiVersion();
  const std::string key = keyOf(metaString(object, "namespace"), metaString(object, "name"));
  objects_[resourceNameOf(r)][key] = object;
  emitLocked(r, created ? kube::WatchEvent::Type::Added : kube::WatchEvent::Type::Modified, object);
  return object;
}

void FakeClient::emitLocked(const kube::Resource& r, kube::WatchEvent::Type type, const json& object) {
  if (!emitEvents_) return;
  const std::string ns = metaString(object, "namespace");
  for (const auto& stream : watches_) {
    if (!stream->active() || stream->resource != resourceNameOf(r)) continue;
    if (!stream->ns.empty() && stream->ns != ns) continue;
    if (!matchesLabels(object, stream->options.labelSelector)) continue;
    stream->send(type, object);
  }
}

json FakeClient::put(const kube::Resource& r, json object) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = keyOf(metaString(object, "namespace"), metaString(object, "name"));
  auto& objects = objects_[resourceNameOf(r)];
  auto existing = objects.find(key);
  const bool created = existing == objects.end();
  if (!created) {
    // Keep server-set identity fields unless the test set them.
    auto& meta = object["metadata"];
    for (const char* field : {"uid", "creationTimestamp"}) {
      if (!meta.contains(field) && existing->second["metadata"].contains(field)) {
        meta[field] = existing->second["metadata"][field];
      }
    }
  }
  return storeLocked(r, std::move(object), created);
}

bool FakeClient::erase(const kube::Resource& r, const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& objects = objects_[resourceNameOf(r)];
  auto it = objects.find(keyOf(r.namespaced ? ns : "", name));
  if (it == objects.end()) return false;
  json last = std::move(it->second);
  objects.erase(it);
  last["metadata"]["resourceVersion"] = nextResourceVersionLocked();
  emitLocked(r, kube::WatchEvent::Type::Deleted, last);
  return true;
}

std::optional<json> FakeClient::object(const kube::Resource& r, const std::string& ns, const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto objects = objects_.find(resourceNameOf(r));
  if (objects == objects_.end()) return std::nullopt;
  auto it = objects->second.find(keyOf(r.namespaced ? ns : "", name));
  if (it == objects->second.end()) return std::nullopt;
  return it->second;
}

std::size_t FakeClient::objectCount(const kube::Resource& r) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto objects = objects_.find(resourceNameOf(r));
  return objects == objects_.end() ? 0 : objects->second.size();
}

std::string FakeClient::currentResourceVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::to_string(resourceVersion_);
}

void FakeClient::setEmitEvents(bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  emitEvents_ = on;
}

void FakeClient::setWatchCache(bool on) {
  std::lock_guard<std::mutex> g(mu_);
  watchCache_ = on;
}

void FakeClient::failNext(const std::string& verb, const std::string& resource, std::exception_ptr error,
                          std::size_t skip) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.push_back({verb + " " + resource, skip, std::move(error)});
}

void FakeClient::pushListPage(const std::string& resource, json page) {
  std::lock_guard<std::mutex> lock(mu_);
  scriptedPages_[resource].push_back(std::move(page));
}

void FakeClient::record(Call call) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(call));
  }
  changed_.notify_all();
}

void FakeClient::maybeFail(const std::string& verb, const kube::Resource& r) {
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto fired = failures_.end();
    for (auto it = failures_.begin(); it != failures_.end(); ++it) {
      if (it->match != verb + " " + resourceNameOf(r) && it->match != verb + " ") continue;
      if (it->skip > 0) {
        --it->skip;
      } else if (fired == failures_.end()) {
        fired = it;
      }
    }
    if (fired != failures_.end()) {
      error = fired->error;
      failures_.erase(fired);
    }
  }
  if (error) std::rethrow_exception(error);
}

std::vector<FakeClient::Call> FakeClient::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

std::vector<FakeClient::Call> FakeClient::calls(const std::string& verb) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Call> out;
  for (const auto& call : calls_) {
    if (call.verb == verb) out.push_back(call);
  }
  return out;
}

std::size_t FakeClient::watchCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watches_.size();
}

std::shared_ptr<FakeWatchStream> FakeClient::awaitWatch(std::size_t index, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  if (!changed_.wait_for(lock, timeout, [&] { return watches_.size() > index; })) return nullptr;
  return watches_[index];
}

bool FakeClient::awaitCalls(const std::string& verb, std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, timeout, [&] {
    return static_cast<std::size_t>(std::count_if(calls_.begin(), calls_.end(),
                                                  [&](const Call& c) { return c.verb == verb; })) >= count;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// FakeClient: kube::Client

json FakeClient::get(const kube::Resource& r, const std::string& ns, const std::string& name,
                     const std::string& subresource) {
  record({"get", resourceNameOf(r), ns, name, subresource, {}, {}, nullptr});
  maybeFail("get", r);
  auto found = object(r, ns, name);
  if (!found) throw notFoundError(resourceNameOf(r) + " \"" + name + "\"");
  return *found;
}

json FakeClient::list(const kube::Resource& r, const std::string& ns, const kube::ListOptions& options) {
  record({"list", resourceNameOf(r), ns, "", "", options, {}, nullptr});
  maybeFail("list", r);
  std::lock_guard<std::mutex> lock(mu_);
  auto scripted = scriptedPages_.find(resourceNameOf(r));
  if (scripted != scriptedPages_.end() && !scripted->second.empty()) {
    json page = std::move(scripted->second.front());
    scripted->second.pop_front();
    return page;
  }

  std::string snapshotId;
  std::size_t offset = 0;
  if (!options.continueToken.empty()) {
    auto colon = options.continueToken.find(':');
    snapshotId = options.continueToken.substr(0, colon);
    if (colon == std::string::npos || !listSnapshots_.count(snapshotId)) {
      throw apiError(410, kube::StatusReason::Expired, "The provided continue parameter is too old");
    }
    offset = std::stoul(options.continueToken.substr(colon + 1));
  } else {
    snapshotId = "snap" + std::to_string(++snapshotCounter_);
    std::vector<json> items;
    for (const auto& [key, object] : objects_[resourceNameOf(r)]) {
      if (r.namespaced && !ns.empty() && metaString(object, "namespace") != ns) continue;
      if (!matchesLabels(object, options.labelSelector)) continue;
      json item = object;
      item.erase("kind");  // list items of built-in types come without kind/apiVersion
      item.erase("apiVersion");
      items.push_back(std::move(item));
    }
    items.push_back(json(std::to_string(resourceVersion_)));  // the snapshot's resourceVersion, kept last
    listSnapshots_[snapshotId] = std::move(items);
  }
  const auto& snapshot = listSnapshots_[snapshotId];
  const std::size_t total = snapshot.size() - 1;
  // resourceVersion=0 is served from the watch cache, which ignores limit: everything in one page
  // (../shared/k8s-reference/edge-cases-2026-12.md; storage/cacher: a list at RV 0 is not paginated).
  const bool fromCache = watchCache_ && options.resourceVersion == "0" && options.continueToken.empty();
  const std::size_t limit =
      !fromCache && options.limit && *options.limit > 0 ? static_cast<std::size_t>(*options.limit) : total;
  const std::size_t end = std::min(total, offset + limit);
  json page = {{"kind", r.kind + "List"},
               {"apiVersion", r.apiVersion()},
               {"metadata", {{"resourceVersion", snapshot.back()}}},
               {"items", json::array()}};
  for (std::size_t i = offset; i < end; ++i) page["items"].push_back(snapshot[i]);
  if (end < total) {
    page["metadata"]["continue"] = snapshotId + ":" + std::to_string(end);
    page["metadata"]["remainingItemCount"] = total - end;
  }
  return page;
}

json FakeClient::create(const kube::Resource& r, const std::string& ns, const json& object,
                        const kube::WriteOptions& w) {
  record({"create", resourceNameOf(r), ns, metaString(object, "name"), "", {}, {}, object});
  maybeFail("create", r);
  json copy = object;
  if (r.namespaced) copy["metadata"]["namespace"] = ns;
  const std::string name = metaString(copy, "name");
  std::lock_guard<std::mutex> lock(mu_);
  auto& objects = objects_[resourceNameOf(r)];
  if (objects.count(keyOf(r.namespaced ? ns : "", name))) {
    throw alreadyExistsError(resourceNameOf(r) + " \"" + name + "\"");
  }
  if (w.dryRun) return copy;
  return storeLocked(r, std::move(copy), true);
}

json FakeClient::update(const kube::Resource& r, const std::string& ns, const json& object,
                        const std::string& subresource, const kube::WriteOptions& w) {
  record({"update", resourceNameOf(r), ns, metaString(object, "name"), subresource, {}, {}, object});
  maybeFail("update", r);
  json copy = object;
  if (r.namespaced) copy["metadata"]["namespace"] = ns;
  const std::string name = metaString(copy, "name");
  std::lock_guard<std::mutex> lock(mu_);
  auto& objects = objects_[resourceNameOf(r)];
  auto it = objects.find(keyOf(r.namespaced ? ns : "", name));
  if (it == objects.end()) throw notFoundError(resourceNameOf(r) + " \"" + name + "\"");
  const std::string sent = metaString(copy, "resourceVersion");
  if (!sent.empty() && sent != metaString(it->second, "resourceVersion")) throw conflictError();
  for (const char* field : {"uid", "creationTimestamp"}) copy["metadata"][field] = it->second["metadata"][field];
  if (w.dryRun) return copy;
  return storeLocked(r, std::move(copy), false);
}

json FakeClient::patch(const kube::Resource& r, const std::string& ns, const std::string& name, kube::PatchType type,
                       const json& patch, const std::string& subresource, const kube::WriteOptions& w) {
  record({"patch", resourceNameOf(r), ns, name, subresource, {}, {}, patch});
  maybeFail("patch", r);
  std::lock_guard<std::mutex> lock(mu_);
  auto& objects = objects_[resourceNameOf(r)];
  auto it = objects.find(keyOf(r.namespaced ? ns : "", name));
  if (it == objects.end()) throw notFoundError(resourceNameOf(r) + " \"" + name + "\"");
  json patched = it->second;
  if (type == kube::PatchType::Json) {
    patched = patched.patch(patch);
  } else {
    patched.merge_patch(patch);  // strategic merge is approximated by a merge patch
  }
  const std::string storedUid = it->second.value("/metadata/uid"_json_pointer, std::string());
  const std::string patchedUid = patched.value("/metadata/uid"_json_pointer, std::string());
  if (patchedUid != storedUid) throw uidImmutableError(resourceNameOf(r) + " \"" + name + "\"", patchedUid);
  if (w.dryRun) return patched;
  return storeLocked(r, std::move(patched), false);
}

json FakeClient::remove(const kube::Resource& r, const std::string& ns, const std::string& name,
                        const kube::DeleteOptions& options) {
  record({"remove", resourceNameOf(r), ns, name, "", {}, {}, nullptr});
  maybeFail("remove", r);
  std::lock_guard<std::mutex> lock(mu_);
  auto& objects = objects_[resourceNameOf(r)];
  auto it = objects.find(keyOf(r.namespaced ? ns : "", name));
  if (it == objects.end()) throw notFoundError(resourceNameOf(r) + " \"" + name + "\"");
  json last = it->second;
  if (options.dryRun) return last;
  objects.erase(it);
  last["metadata"]["resourceVersion"] = nextResourceVersionLocked();
  emitLocked(r, kube::WatchEvent::Type::Deleted, last);
  return last;
}

json FakeClient::createSubresource(const kube::Resource& r, const std::string& ns, const std::string& name,
                                   const std::string& subresource, const json& body, const kube::WriteOptions&) {
  record({"createSubresource", resourceNameOf(r), ns, name, subresource, {}, {}, body});
  maybeFail("createSubresource", r);
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Success"},
          {"code", 201}};
}

void FakeClient::watch(const kube::Resource& r, const std::string& ns, const kube::WatchOptions& options,
                       const std::function<void(const kube::WatchEvent&)>& onEvent, kube::CancelToken& cancel) {
  record({"watch", resourceNameOf(r), ns, "", "", {}, options, nullptr});
  auto stream = std::make_shared<FakeWatchStream>(resourceNameOf(r), ns, options);
  {
    std::lock_guard<std::mutex> lock(mu_);
    watches_.push_back(stream);
  }
  changed_.notify_all();
  try {
    maybeFail("watch", r);
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(stream->mu_);
      stream->active_ = false;
    }
    stream->changed_.notify_all();
    throw;
  }
  stream->serve(onEvent, cancel);
}

}  // namespace mv::testing
