#include "runtime/metrics/rest_client_metrics.h"

#include <cctype>

namespace mv::runtime::metrics {

std::string httpMethodOf(const std::string& verb) {
  if (verb == "get" || verb == "list" || verb == "watch") return "GET";
  if (verb == "create") return "POST";
  if (verb == "update") return "PUT";
  if (verb == "patch") return "PATCH";
  if (verb == "delete" || verb == "deletecollection") return "DELETE";
  std::string upper = verb;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

RestClientMetrics::RestClientMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("rest_client_requests_total")
                    .Help("Number of HTTP requests, partitioned by status code, method, and host.")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("rest_client_request_duration_seconds")
                    .Help("Request latency in seconds. Broken down by verb, and host.")
                    .Register(registry)) {}

RestClientMetrics::Observer RestClientMetrics::observer(std::string host) {
  return [this, host = std::move(host)](const std::string& verb, int code, double seconds) {
    observe(host, verb, code, seconds);
  };
}

void RestClientMetrics::observe(const std::string& host, const std::string& verb, int code, double seconds) {
  static const prometheus::Histogram::BucketBoundaries buckets{0.005, 0.025, 0.1, 0.25, 0.5, 1.0,
                                                               2.0,   4.0,   8.0, 15.0, 30.0, 60.0};
  const std::string codeLabel = code > 0 ? std::to_string(code) : "<error>";
  const std::string method = httpMethodOf(verb);
  requests_.Add({{"code", codeLabel}, {"method", method}, {"host", host}}).Increment();
  duration_.Add({{"verb", method}, {"host", host}}, buckets).Observe(seconds);
}

}  // namespace mv::runtime::metrics
