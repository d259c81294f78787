#include "kube/client.h"

#include <fmt/format.h>

#include "kube/json_parse.h"
#include "kube/list_stream.h"

namespace mv::kube {
namespace {

constexpr int kMax429Retries = 3;
constexpr std::chrono::seconds kMaxClientRetryAfter{10};

class Query {
 public:
  Query& add(const char* key, const std::string& value) {
    if (!value.empty()) parts_ += fmt::format("{}{}={}", parts_.empty() ? "?" : "&", key, escape(value));
    return *this;
  }
  Query& add(const char* key, const std::optional<long>& value) {
    if (value) add(key, std::to_string(*value));
    return *this;
  }
  const std::string& str() const { return parts_; }

 private:
  std::string parts_;
};

Query writeQuery(const WriteOptions& w, const std::string& defaultManager) {
  Query q;
  if (w.dryRun) q.add("dryRun", std::string("All"));
  q.add("fieldManager", w.fieldManager.empty() ? defaultManager : w.fieldManager);
  return q;
}

std::string objectName(const json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].contains("name") ||
      !object["metadata"]["name"].is_string())
    throw std::invalid_argument("the object has no metadata.name");
  return object["metadata"]["name"].get<std::string>();
}

std::string objectNamespace(const json& object, const std::string& fallback) {
  if (object.is_object() && object.contains("metadata") && object["metadata"].contains("namespace") &&
      object["metadata"]["namespace"].is_string())
    return object["metadata"]["namespace"].get<std::string>();
  return fallback;
}

bool is2xx(int status) { return status >= 200 && status < 300; }

}  // namespace

RestClient::RestClient(std::unique_ptr<Transport> transport, std::shared_ptr<BearerToken> token, util::Clock& clock,
                       ClientOptions options)
    : transport_(std::move(transport)),
      token_(std::move(token)),
      clock_(clock),
      options_(std::move(options)),
      limiter_(clock, options_.qps, options_.burst) {}

HttpRequest RestClient::makeRequest(const std::string& method, std::string pathAndQuery, std::string body,
                                    std::string contentType) {
  HttpRequest req;
  req.method = method;
  req.pathAndQuery = std::move(pathAndQuery);
  req.body = std::move(body);
  req.timeout = options_.requestTimeout;
  req.headers["Accept"] = "application/json";
  req.headers["User-Agent"] = options_.userAgent;
  if (!contentType.empty()) req.headers["Content-Type"] = std::move(contentType);
  return req;
}

json RestClient::call(const std::string& verb, HttpRequest request) {
  std::string body = callForBody(verb, request);
  if (body.empty()) return json::object();
  json parsed = parseJson(body);
  if (parsed.is_discarded())
    throw TransportError(TransportError::Kind::Protocol,
                         fmt::format("the API server's reply to {} {} is not valid JSON", request.method,
                                     request.pathAndQuery));
  return parsed;
}

std::string RestClient::callForBody(const std::string& verb, HttpRequest& request) {
  return exchange(verb, request, [&](const HttpRequest& r) { return transport_->send(r); });
}

std::string RestClient::exchange(const std::string& verb, HttpRequest& request,
                                 const std::function<HttpResponse(const HttpRequest&)>& send) {
  bool retriedUnauthorized = false;
  for (int attempt = 0;; ++attempt) {
    if (token_) request.headers["Authorization"] = "Bearer " + token_->current();
    limiter_.acquire();
    const auto start = clock_.now();
    HttpResponse resp;
    try {
      resp = send(request);
    } catch (const TransportError&) {
      if (options_.observer)
        options_.observer(verb, 0, std::chrono::duration<double>(clock_.now() - start).count());
      throw;
    }
    if (options_.observer)
      options_.observer(verb, resp.status, std::chrono::duration<double>(clock_.now() - start).count());
    if (is2xx(resp.status)) return std::move(resp.body);
    ApiError err = apiErrorFromResponse(resp.status, resp.body, resp.header("retry-after"));
    // A 429 whose Retry-After fits in the request budget is waited out here, as client-go does.
    if (err.isTooManyRequests() && err.retryAfter() && *err.retryAfter() <= kMaxClientRetryAfter &&
        attempt < kMax429Retries) {
      clock_.sleepFor(*err.retryAfter());
      continue;
    }
    // A rotated service-account token: read the file again once.
    if (err.isUnauthorized() && token_ && !retriedUnauthorized) {
      retriedUnauthorized = true;
      token_->invalidate();
      continue;
    }
    throw err;
  }
}

json RestClient::get(const Resource& r, const std::string& ns, const std::string& name,
                     const std::string& subresource) {
  return call("get", makeRequest("GET", objectPath(r, ns, name, subresource)));
}

HttpRequest RestClient::listRequest(const Resource& r, const std::string& ns, const ListOptions& o) {
  Query q;
  q.add("labelSelector", o.labelSelector)
      .add("fieldSelector", o.fieldSelector)
      .add("limit", o.limit)
      .add("continue", o.continueToken)
      .add("resourceVersion", o.resourceVersion)
      .add("resourceVersionMatch", o.resourceVersionMatch);
  return makeRequest("GET", collectionPath(r, ns) + q.str());
}

json RestClient::list(const Resource& r, const std::string& ns, const ListOptions& o) {
  return call("list", listRequest(r, ns, o));
}

void RestClient::listPage(const Resource& r, const std::string& ns, const ListOptions& o,
                          const std::function<bool(const json& page)>& onPage,
                          const std::function<void(json&& item)>& onItem) {
  HttpRequest request = listRequest(r, ns, o);
  // Read as it arrives (list_stream.h): a list with resourceVersion=0 is the whole collection in one reply.
  ListStream list(onPage, onItem, o.itemFields.get());
  try {
    exchange("list", request, [&](const HttpRequest& req) {
      CancelToken never;
      return transport_->stream(req, [&](std::string_view piece) { list.feed(piece); }, never);
    });
    list.finish();
  } catch (const ListStreamError& e) {
    throw TransportError(TransportError::Kind::Protocol,
                         fmt::format("the API server's reply to {} {} is {}", request.method, request.pathAndQuery,
                                     e.what()));
  }
}

void Client::listPage(const Resource& r, const std::string& ns, const ListOptions& options,
                      const std::function<bool(const json& page)>& onPage,
                      const std::function<void(json&& item)>& onItem) {
  json page = list(r, ns, options);
  json items = page.is_object() && page.contains("items") ? std::move(page["items"]) : json();
  if (page.is_object()) page.erase("items");
  if (!onPage(page) || !items.is_array()) return;
  for (auto& item : items) onItem(std::move(item));
}

json RestClient::create(const Resource& r, const std::string& ns, const json& object, const WriteOptions& w) {
  const std::string path = collectionPath(r, objectNamespace(object, ns)) + writeQuery(w, options_.fieldManager).str();
  return call("create", makeRequest("POST", path, object.dump(), "application/json"));
}

json RestClient::update(const Resource& r, const std::string& ns, const json& object, const std::string& subresource,
                        const WriteOptions& w) {
  const std::string path = objectPath(r, objectNamespace(object, ns), objectName(object), subresource) +
                           writeQuery(w, options_.fieldManager).str();
  return call("update", makeRequest("PUT", path, object.dump(), "application/json"));
}

json RestClient::patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type,
                       const json& patchBody, const std::string& subresource, const WriteOptions& w) {
  const char* contentType = type == PatchType::Merge  ? "application/merge-patch+json"
                            : type == PatchType::Json ? "application/json-patch+json"
                                                      : "application/strategic-merge-patch+json";
  const std::string path = objectPath(r, ns, name, subresource) + writeQuery(w, options_.fieldManager).str();
  return call("patch", makeRequest("PATCH", path, patchBody.dump(), contentType));
}

json RestClient::remove(const Resource& r, const std::string& ns, const std::string& name, const DeleteOptions& o) {
  json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (o.gracePeriodSeconds) body["gracePeriodSeconds"] = *o.gracePeriodSeconds;
  if (!o.propagationPolicy.empty()) body["propagationPolicy"] = o.propagationPolicy;
  if (!o.preconditionUid.empty()) body["preconditions"]["uid"] = o.preconditionUid;
  if (!o.preconditionResourceVersion.empty()) body["preconditions"]["resourceVersion"] = o.preconditionResourceVersion;
  if (o.dryRun) body["dryRun"] = json::array({"All"});
  return call("delete", makeRequest("DELETE", objectPath(r, ns, name), body.dump(), "application/json"));
}

json RestClient::createSubresource(const Resource& r, const std::string& ns, const std::string& name,
                                   const std::string& subresource, const json& body, const WriteOptions& w) {
  Query q;
  if (w.dryRun) q.add("dryRun", std::string("All"));
  return call("create", makeRequest("POST", objectPath(r, ns, name, subresource) + q.str(), body.dump(),
                                    "application/json"));
}

void RestClient::watch(const Resource& r, const std::string& ns, const WatchOptions& o,
                       const std::function<void(const WatchEvent&)>& onEvent, CancelToken& cancel) {
  Query q;
  q.add("watch", std::string("true"))
      .add("labelSelector", o.labelSelector)
      .add("fieldSelector", o.fieldSelector)
      .add("resourceVersion", o.resourceVersion)
      .add("allowWatchBookmarks", std::string(o.allowWatchBookmarks ? "true" : ""))
      .add("sendInitialEvents", std::string(o.sendInitialEvents ? "true" : ""))
      .add("resourceVersionMatch", std::string(o.sendInitialEvents ? "NotOlderThan" : ""))
      .add("timeoutSeconds", o.timeoutSeconds);
  HttpRequest req = makeRequest("GET", collectionPath(r, ns) + q.str());
  // The transport's timeout on a stream is an inactivity limit: a healthy watch is silent for up to its
  // timeoutSeconds (bookmarks come about once a minute), so allow that plus a margin.
  req.timeout = std::chrono::seconds(o.timeoutSeconds.value_or(1800) + 60);
  if (token_) req.headers["Authorization"] = "Bearer " + token_->current();
  limiter_.acquire();

  WatchDecoder decoder(
      [&](WatchEvent&& ev) {
        if (ev.type == WatchEvent::Type::Error) throw apiErrorFromStatus(ev.object);
        onEvent(ev);
      },
      WatchDecoder::kDefaultMaxLineBytes, o.itemFields.get());
  const auto start = clock_.now();
  HttpResponse resp;
  try {
    resp = transport_->stream(req, [&](std::string_view piece) { decoder.feed(piece); }, cancel);
  } catch (const TransportError& e) {
    if (options_.observer && e.kind() != TransportError::Kind::Cancelled)
      options_.observer("watch", 0, std::chrono::duration<double>(clock_.now() - start).count());
    throw;
  }
  if (options_.observer)
    options_.observer("watch", resp.status, std::chrono::duration<double>(clock_.now() - start).count());
  if (!is2xx(resp.status)) {
    if (resp.status == 401 && token_) token_->invalidate();
    throw apiErrorFromResponse(resp.status, resp.body, resp.header("retry-after"));
  }
  decoder.finish();
}

json listAll(Client& client, const Resource& r, const std::string& ns, ListOptions options, long pageSize) {
  options.limit = pageSize;
  json result = client.list(r, ns, options);
  if (!result.contains("items") || result["items"].is_null()) result["items"] = json::array();
  std::string next = result.value("/metadata/continue"_json_pointer, std::string());
  // Later pages come from the first page's snapshot; their own resourceVersion must not be sent with continue.
  options.resourceVersion.clear();
  options.resourceVersionMatch.clear();
  while (!next.empty()) {
    options.continueToken = next;
    json page = client.list(r, ns, options);
    if (page.contains("items") && page["items"].is_array())
      for (auto& item : page["items"]) result["items"].push_back(std::move(item));
    next = page.value("/metadata/continue"_json_pointer, std::string());
  }
  if (result.contains("metadata")) {
    result["metadata"].erase("continue");
    result["metadata"].erase("remainingItemCount");
  }
  return result;
}

std::unique_ptr<RestClient> makeClient(const ConnectionConfig& config, util::Clock& clock, ClientOptions options,
                                       TransportOptions transportOptions) {
  return std::make_unique<RestClient>(makeCpprestTransport(config, transportOptions), config.token, clock,
                                      std::move(options));
}

}  // namespace mv::kube
