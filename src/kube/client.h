#pragma once
// The Kubernetes API client: typed requests for any group/version/resource, built-in or custom, namespaced or
// cluster-scoped. Objects are JSON (nlohmann::json), exactly as the API server sends them.
//
// Contract of every call:
// - Returns the server's reply body (the object, the list, or for delete the object or Status the server sent).
// - Throws ApiError on a non-2xx reply (typed: NotFound, Conflict, Gone, Invalid, TooManyRequests with Retry-After,
//   ...), TransportError when no usable reply came back. Nothing is retried inside the client except a 429 whose
//   Retry-After is within the request budget; retrying the rest is the caller's decision (reconciles are retried by
//   the work queue, watches by the reflector).
// - Is subject to the client-side rate limit (token bucket) and the per-request timeout.
// - Is thread-safe: one Client serves every worker.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "kube/config.h"
#include "kube/errors.h"
#include "kube/json_parse.h"
#include "kube/resource.h"
#include "kube/transport.h"
#include "kube/watch.h"
#include "util/clock.h"
#include "util/token_bucket.h"

namespace mv::kube {

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  std::optional<long> limit;
  std::string continueToken;
  std::string resourceVersion;       // "" (most recent, quorum read), "0" (any), or a version
  std::string resourceVersionMatch;  // "", "NotOlderThan" or "Exact"
  // listPage only, a hint: each item may be built with only these members (a decoding saving, never a query
  // parameter). For a caller that projects items anyway (an informer's transform); a client holding whole items
  // (a fake, list()) hands them out whole.
  std::shared_ptr<const JsonFieldFilter> itemFields;
};

struct WatchOptions {
  std::string labelSelector;
  std::string fieldSelector;
  std::string resourceVersion;  // start after this version; "" = from now (with a synthetic ADDED of everything)
  bool allowWatchBookmarks = true;
  std::optional<long> timeoutSeconds;  // the server ends the watch quietly after it
  // A streaming list (KEP-3157): the state at least as new as resourceVersion as ADDED events, then a BOOKMARK
  // annotated k8s.io/initial-events-end, then the watch. Sent with resourceVersionMatch=NotOlderThan, which the
  // server requires with it.
  bool sendInitialEvents = false;
  // A decoding hint as ListOptions::itemFields: the objects of ADDED, MODIFIED and DELETED events may be built with
  // only these members (BOOKMARK and ERROR objects stay whole). Never a query parameter.
  std::shared_ptr<const JsonFieldFilter> itemFields;
};

enum class PatchType { Merge, Json, StrategicMerge };

struct DeleteOptions {
  std::optional<long> gracePeriodSeconds;
  std::string propagationPolicy;  // "", "Background", "Foreground", "Orphan"
  std::string preconditionUid;
  std::string preconditionResourceVersion;
  bool dryRun = false;
};

struct WriteOptions {
  bool dryRun = false;
  std::string fieldManager;  // "" = the client's default field manager
};

class Client {
 public:
  virtual ~Client() = default;

  // `ns` is ignored for cluster-scoped resources. `subresource` is "", "status", "scale", ...
  virtual json get(const Resource& r, const std::string& ns, const std::string& name,
                   const std::string& subresource = "") = 0;
  // One page. Follow `metadata.continue` for the next; listAll() does that.
  virtual json list(const Resource& r, const std::string& ns, const ListOptions& options = {}) = 0;
  // One page, in pieces, for a caller that takes the items one at a time (an informer's list): `onPage` gets the page
  // without its items (kind, apiVersion, metadata) before any item; if it returns true, `onItem` gets each element of
  // `items` in order, each decoded just before it is handed out, so the page's whole tree never exists at once.
  // Errors as list(). A reply found not to be a valid list throws TransportError Protocol, possibly after callbacks
  // ran (RestClient reads the reply as it arrives, list_stream.h): the caller abandons what it got. An exception from
  // a callback ends the call and propagates. This default is list() and a loop (for clients that hold the whole tree
  // anyway).
  virtual void listPage(const Resource& r, const std::string& ns, const ListOptions& options,
                        const std::function<bool(const json& page)>& onPage,
                        const std::function<void(json&& item)>& onItem);
  virtual json create(const Resource& r, const std::string& ns, const json& object, const WriteOptions& w = {}) = 0;
  // PUT. The object's metadata.resourceVersion makes it conditional: a stale one throws ApiError Conflict.
  virtual json update(const Resource& r, const std::string& ns, const json& object,
                      const std::string& subresource = "", const WriteOptions& w = {}) = 0;
  virtual json patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type,
                     const json& patch, const std::string& subresource = "", const WriteOptions& w = {}) = 0;
  virtual json remove(const Resource& r, const std::string& ns, const std::string& name,
                      const DeleteOptions& options = {}) = 0;
  // POST to a subresource of an object, e.g. pods/<name>/eviction.
  virtual json createSubresource(const Resource& r, const std::string& ns, const std::string& name,
                                 const std::string& subresource, const json& body, const WriteOptions& w = {}) = 0;

  // A long-lived watch. Blocks the calling thread and calls `onEvent` for each event as it arrives (not when the
  // response ends). Returns when the server ends the stream (timeoutSeconds, or it closed cleanly). Throws:
  // - ApiError with isGone() for 410, whether sent as the HTTP status or as an ERROR event: the caller must relist;
  // - ApiError for any other ERROR event or non-2xx status;
  // - TransportError(Cancelled) within a second of cancel.cancel() from another thread;
  // - TransportError for a broken or malformed stream.
  // An exception thrown by onEvent ends the watch and propagates.
  virtual void watch(const Resource& r, const std::string& ns, const WatchOptions& options,
                     const std::function<void(const WatchEvent&)>& onEvent, CancelToken& cancel) = 0;
};

// Lists every page (limit/continue) and returns one list whose items are all the pages' items and whose
// metadata.resourceVersion is the first page's (the consistent snapshot the pages come from).
json listAll(Client& client, const Resource& r, const std::string& ns, ListOptions options, long pageSize = 500);

struct ClientOptions {
  double qps = 20;   // client-side token bucket (client-go's defaults are 5/10; controller-runtime raises them)
  int burst = 30;
  std::chrono::milliseconds requestTimeout{std::chrono::seconds(30)};
  std::string userAgent = "medivote-controller/" MEDIVOTE_VERSION;
  std::string fieldManager = "medivote-controller";
  // Called after every request with (verb, code or 0 for a transport failure, seconds): feeds the REST client metrics.
  std::function<void(const std::string& verb, int code, double seconds)> observer;
};

// The real client: paths, query strings, bearer token, rate limit, error mapping, watch decoding, on a Transport.
class RestClient final : public Client {
 public:
  RestClient(std::unique_ptr<Transport> transport, std::shared_ptr<BearerToken> token, util::Clock& clock,
             ClientOptions options = {});

  json get(const Resource& r, const std::string& ns, const std::string& name,
           const std::string& subresource = "") override;
  json list(const Resource& r, const std::string& ns, const ListOptions& options = {}) override;
  void listPage(const Resource& r, const std::string& ns, const ListOptions& options,
                const std::function<bool(const json& page)>& onPage,
                const std::function<void(json&& item)>& onItem) override;
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

 private:
  json call(const std::string& verb, HttpRequest request);
  // call() without the parse: the body of the 2xx reply. Adds the Authorization header to `request`.
  std::string callForBody(const std::string& verb, HttpRequest& request);
  // The request's life: token, rate limit, `send`, the observer, errors mapped, 429s and a 401 retried. Returns a 2xx
  // reply's body (empty when `send` streamed it).
  std::string exchange(const std::string& verb, HttpRequest& request,
                       const std::function<HttpResponse(const HttpRequest&)>& send);
  HttpRequest listRequest(const Resource& r, const std::string& ns, const ListOptions& options);
  HttpRequest makeRequest(const std::string& method, std::string pathAndQuery, std::string body = {},
                          std::string contentType = {});
  std::unique_ptr<Transport> transport_;
  std::shared_ptr<BearerToken> token_;
  util::Clock& clock_;
  ClientOptions options_;
  util::TokenBucket limiter_;
};

// Builds a RestClient on the real transport from a connection configuration.
std::unique_ptr<RestClient> makeClient(const ConnectionConfig& config, util::Clock& clock, ClientOptions options = {},
                                       TransportOptions transportOptions = {});

}  // namespace mv::kube
