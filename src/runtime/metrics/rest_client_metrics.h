#pragma once
// client-go's REST client metrics, fed by kube::ClientOptions::observer:
//   rest_client_requests_total{code,method,host}      counter; code "<error>" when no reply came back
//   rest_client_request_duration_seconds{verb,host}   histogram, client-go's buckets (5 ms .. 60 s)
// As in client-go, both `method` and `verb` hold the HTTP method (GET, POST, PUT, PATCH, DELETE): the API client's
// verbs (get, list, watch, create, update, patch, delete) are mapped to it.

#include <functional>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace mv::runtime::metrics {

// The HTTP method of an API client verb ("list" -> "GET"); an unknown verb is upper-cased.
std::string httpMethodOf(const std::string& verb);

class RestClientMetrics {
 public:
  using Observer = std::function<void(const std::string& verb, int code, double seconds)>;

  explicit RestClientMetrics(prometheus::Registry& registry);
  // An observer for kube::ClientOptions::observer that labels every request with `host` (the API server's
  // host:port). `code` 0 means a transport failure. Valid as long as the Registry.
  Observer observer(std::string host);
  void observe(const std::string& host, const std::string& verb, int code, double seconds);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
};

}  // namespace mv::runtime::metrics
