#pragma once
// A fake kube::Client for unit tests: an in-memory, scriptable API server.
//
// - Objects live in memory per resource; every write bumps one global resourceVersion counter (as etcd does) and sets
//   metadata.resourceVersion (plus uid and creationTimestamp on create). get/list/create/update/patch(merge)/remove
//   behave like the API server where tests rely on it: 404 NotFound, 409 AlreadyExists on create, 409 Conflict on an
//   update whose metadata.resourceVersion is stale (no resourceVersion = unconditional, as for built-in types),
//   422 Invalid on a patch that sets metadata.uid to another object's uid (the guard against stale patches).
// - list honours limit/continue (continue tokens are offsets into a snapshot taken by the first page, whose
//   resourceVersion every page reports) and labelSelector equality terms ("k=v,k2=v2"). Scripted pages
//   (pushListPage) are served first, in order, instead.
// - watch() registers a FakeWatchStream the test drives event by event (send, bookmark, close quietly, fail with any
//   exception), then blocks until the test ends it or the CancelToken is cancelled (TransportError Cancelled).
//   With emitEvents (default on), writes made through the Client API and through put()/erase() are also sent to the
//   open watches of that resource and namespace. An ERROR event is thrown as the ApiError it carries, as the real
//   client does.
// - failNext(verb, resource, error) makes the next matching call throw, before doing anything (once per call queued).
// - Every call is recorded (verb, resource, namespace, name, options, body) for assertions.
// Thread-safe.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kube/client.h"
#include "kube/errors.h"

namespace mv::testing {

using json = nlohmann::json;

// ApiErrors as the real API server sends them (metav1.Status bodies).
kube::ApiError apiError(int code, kube::StatusReason reason, const std::string& message);
kube::ApiError goneError();           // 410 Expired "too old resource version"
kube::ApiError conflictError();       // 409 Conflict "the object has been modified"
kube::ApiError internalError();       // 500 InternalError
kube::ApiError notFoundError(const std::string& what);
kube::ApiError alreadyExistsError(const std::string& what);
// 422 Invalid for a patch whose metadata.uid names another object: what the real server answers
// (../shared/k8s-reference/edge-cases-2026-12.md, "A patch that names another uid").
kube::ApiError uidImmutableError(const std::string& what, const std::string& sentUid);
// A watch ERROR event carrying 410 Expired (what the API server sends when a watch's RV left its cache).
kube::WatchEvent goneEvent();

class FakeWatchStream {
 public:
  FakeWatchStream(std::string resource, std::string ns, kube::WatchOptions options)
      : resource(std::move(resource)), ns(std::move(ns)), options(std::move(options)) {}

  const std::string resource;  // qualified name, e.g. "pods"
  const std::string ns;
  const kube::WatchOptions options;

  void send(kube::WatchEvent::Type type, json object);
  void bookmark(const std::string& resourceVersion);
  // Ends the watch as a server timeout does: the watch() call returns normally.
  void close();
  // Ends the watch with this exception thrown from watch().
  void fail(std::exception_ptr error);
  // True until watch() has returned or thrown.
  bool active() const;
  // Waits (real time) until the watch() call is over.
  bool awaitDone(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // Waits until every event sent so far was handed to the watcher's callback and the callback returned.
  bool awaitDelivered(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

 private:
  friend class FakeClient;
  struct Item {
    std::optional<kube::WatchEvent> event;
    std::exception_ptr error;
    bool close = false;
  };
  void serve(const std::function<void(const kube::WatchEvent&)>& onEvent, kube::CancelToken& cancel);
  void push(Item item);

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::deque<Item> queue_;
  std::size_t pushed_ = 0;
  std::size_t delivered_ = 0;
  bool active_ = true;
};

class FakeClient final : public kube::Client {
 public:
  struct Call {
    std::string verb;      // get, list, create, update, patch, remove, createSubresource, watch
    std::string resource;  // qualified name
    std::string ns;
    std::string name;
    std::string subresource;
    kube::ListOptions list;
    kube::WatchOptions watch;
    json body;
  };

  FakeClient() = default;

  // --- state, without going through the API (no failure injection, no call recorded) ---
  // Creates or replaces an object: sets a new resourceVersion (and uid/creationTimestamp when missing). Emits
  // ADDED/MODIFIED to open watches when emitEvents. Returns the stored object.
  json put(const kube::Resource& r, json object);
  // Deletes an object if present. Emits DELETED (the last state, at a new resourceVersion) when emitEvents.
  bool erase(const kube::Resource& r, const std::string& ns, const std::string& name);
  std::optional<json> object(const kube::Resource& r, const std::string& ns, const std::string& name) const;
  std::size_t objectCount(const kube::Resource& r) const;
  std::string currentResourceVersion() const;
  void setEmitEvents(bool on);
  // A server whose watch cache is off (--watch-cache=false) pages a list at resourceVersion=0 as any other; with it
  // on (the default, as the real server), such a list is answered whole whatever its limit.
  void setWatchCache(bool on);

  // --- scripting ---
  // A coming call of `verb` on `resource` (qualified name; "" = any resource) throws `error`: the next one, or
  // with `skip` the one after `skip` further matching calls have gone through.
  void failNext(const std::string& verb, const std::string& resource, std::exception_ptr error,
                std::size_t skip = 0);
  template <typename E>
  void failNext(const std::string& verb, const std::string& resource, const E& error, std::size_t skip = 0) {
    failNext(verb, resource, std::make_exception_ptr(error), skip);
  }
  // The next list call on `resource` returns `page` as is (after any failNext).
  void pushListPage(const std::string& resource, json page);

  // --- observation ---
  std::vector<Call> calls() const;
  std::vector<Call> calls(const std::string& verb) const;
  std::size_t watchCount() const;
  // The `index`-th watch call (0-based), waiting (real time) until it has been made.
  std::shared_ptr<FakeWatchStream> awaitWatch(std::size_t index,
                                              std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // Waits (real time) until `count` calls of `verb` were made.
  bool awaitCalls(const std::string& verb, std::size_t count,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

  // --- kube::Client ---
  json get(const kube::Resource& r, const std::string& ns, const std::string& name,
           const std::string& subresource = "") override;
  json list(const kube::Resource& r, const std::string& ns, const kube::ListOptions& options = {}) override;
  json create(const kube::Resource& r, const std::string& ns, const json& object,
              const kube::WriteOptions& w = {}) override;
  json update(const kube::Resource& r, const std::string& ns, const json& object, const std::string& subresource = "",
              const kube::WriteOptions& w = {}) override;
  json patch(const kube::Resource& r, const std::string& ns, const std::string& name, kube::PatchType type,
             const json& patch, const std::string& subresource = "", const kube::WriteOptions& w = {}) override;
  json remove(const kube::Resource& r, const std::string& ns, const std::string& name,
              const kube::DeleteOptions& options = {}) override;
  json createSubresource(const kube::Resource& r, const std::string& ns, const std::string& name,
                         const std::string& subresource, const json& body, const kube::WriteOptions& w = {}) override;
  void watch(const kube::Resource& r, const std::string& ns, const kube::WatchOptions& options,
             const std::function<void(const kube::WatchEvent&)>& onEvent, kube::CancelToken& cancel) override;

 private:
  using Objects = std::map<std::string, json>;  // "ns/name" -> object

  void record(Call call);
  void maybeFail(const std::string& verb, const kube::Resource& r);
  json storeLocked(const kube::Resource& r, json object, bool created);
  void emitLocked(const kube::Resource& r, kube::WatchEvent::Type type, const json& object);
  std::string nextResourceVersionLocked();

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, Objects> objects_;  // by qualified resource name
  long resourceVersion_ = 1000;
  long uidCounter_ = 0;
  bool emitEvents_ = true;
  bool watchCache_ = true;
  std::vector<Call> calls_;
  struct Failure {
    std::string match;  // verb + " " + resource
    std::size_t skip;
    std::exception_ptr error;
  };
  std::vector<Failure> failures_;  // in the order they were scripted
  std::map<std::string, std::deque<json>> scriptedPages_;
  std::map<std::string, std::vector<json>> listSnapshots_;  // continue token prefix -> snapshot items
  long snapshotCounter_ = 0;
  std::vector<std::shared_ptr<FakeWatchStream>> watches_;
};

}  // namespace mv::testing
