#pragma once
// The vote service's HTTP API (see README.md in this folder for the full contract):
//   POST /votes            {"id","choice"} → 201 stored | 200 duplicate | 409 conflict | 400 | 503 shutting down
//   GET  /votes            {"count","ids"}     GET /votes/count  {"count"}
//   GET  /healthz          200 while running, 503 once shutting down
//   POST /shutdown         401 bad token → 403 peer not allowed → 429 rate limited → 202 already shutting down
//                          → 409 busy (Retry-After) → 202 {"status":"shutdown_initiated"}
//   GET  /shutdown         {"state":"running|draining|saving|done","trigger":"none|http|signal","votes","in_flight"}
//   POST /admin/busy?seconds=S   busy for S seconds (the bearer token is required when one is configured)

#include "http/message.h"
#include "lifecycle.h"
#include "options.h"
#include "rate_limiter.h"

namespace mv::workloads::vote {

class Routes {
 public:
  Routes(const Options& options, Lifecycle& lifecycle);
  http::Response handle(const http::Request& req);

 private:
  http::Response postVote(const http::Request& req);
  http::Response postShutdown(const http::Request& req);
  http::Response postBusy(const http::Request& req);
  bool authorised(const http::Request& req) const;

  const Options& options_;
  Lifecycle& lifecycle_;
  RateLimiter limiter_;
};

}  // namespace mv::workloads::vote
