#pragma once
// The HTTP layer under the API client: one connection configuration, requests out, responses back.
// The API client (RestClient) builds paths, adds the bearer token and maps statuses to errors; a Transport only moves
// bytes, so client logic is testable with a fake Transport and the real one is tested against a scripted server.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kube/config.h"

namespace mv::kube {

struct HttpRequest {
  std::string method;        // GET, POST, PUT, PATCH, DELETE
  std::string pathAndQuery;  // e.g. /api/v1/namespaces/default/pods?limit=500 (already escaped)
  std::map<std::string, std::string> headers;
  std::string body;
  // For send(): the whole request must complete within it. For stream(): the longest silence allowed between two
  // pieces of the body (a watch sets it above its timeoutSeconds).
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // keys lower-cased
  std::string body;
  std::string header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Cancels a streaming request from another thread. Once cancel() is called, the stream ends (TransportError
// Cancelled) within a second. A token may be cancelled before the request starts; the request then fails at once.
class CancelToken {
 public:
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Registers `fn` to run on cancel() (at once if already cancelled). Returns an id for unsubscribe().
  int subscribe(std::function<void()> fn);
  void unsubscribe(int id);

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  int nextId_ = 0;
  std::map<int, std::function<void()>> callbacks_;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Sends one request and reads the whole reply. Any HTTP status is returned, not thrown; throws TransportError when
  // no complete reply arrives (refused, TLS failure, timeout, malformed). The body is limited to `maxBodyBytes`.
  virtual HttpResponse send(const HttpRequest& request) = 0;

  // Sends one request whose 2xx body is a stream: `onData` is called with each piece of the body as it arrives,
  // in order, on the calling thread, and stream() returns once the server ends the body. A non-2xx reply is not
  // streamed: its whole body is returned in the HttpResponse instead. Throws TransportError on failure, on an
  // inactivity timeout, and on cancellation. An exception thrown by onData ends the stream and propagates.
  virtual HttpResponse stream(const HttpRequest& request, const std::function<void(std::string_view)>& onData,
                              CancelToken& cancel) = 0;
};

struct TransportOptions {
  // Threads of the shared I/O pool. The pool is process-wide and fixed: no thread per request.
  int ioThreads = 4;
  std::size_t maxBodyBytes = 64u << 20;
};

// The real transport (cpprestsdk + OpenSSL): TLS trusting only the configured CA (as kubectl does), server name
// verification including IP SANs, client certificates from files or kubeconfig *-data. TLS failures are reported as
// the TransportError kinds TlsUnknownAuthority / TlsNameMismatch / TlsClientRejected with a sentence that says so.
std::unique_ptr<Transport> makeCpprestTransport(const ConnectionConfig& config, const TransportOptions& options = {});

}  // namespace mv::kube
