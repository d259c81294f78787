#pragma once
// The agent's HTTP API:
//   GET|HEAD /healthz   200 "ok", no authentication (for probes)
//   GET /prestop        the kubelet's preStop hook, no authentication: witnesses termination, then holds the reply
//                       (prestop_hold.h) and answers 200 {"released":"service-exited|exit-timeout|hold-timeout|
//                       not-listening","heldMs":N}. Unauthenticated because the kubelet's httpGet hook carries no
//                       secret; all it can do is mark termination and hold one connection for a bounded time.
//   POST /shutdown      waits up to --await-termination-seconds for the hook; without it, 503
//                       {"forwarded":false,"state":"awaiting-termination"} with Retry-After: 1. Once witnessed,
//                       forwards to the service; answers with the service's status (and its Retry-After) and
//                       {"forwarded":true,"status":N,"target":"127.0.0.1:8546","state":"..."}; 502
//                       {"forwarded":false,...} when the service cannot be reached, except once the service is done:
//                       then 200 {"forwarded":false,"state":"done"} (the shutdown it asks for has happened)
//   GET /shutdown       {"state":"idle|forwarded|done","serviceStatus":N,"terminating":B,"terminatingForMs":N}
// /shutdown needs "Authorization: Bearer <token>" (401 otherwise). Other paths 404, other methods 405. Each request
// is logged with its peer, never with its headers. handle() is called concurrently, one thread per request.

#include "forwarder.h"
#include "net/http_server.h"
#include "termination.h"
#include "token_file.h"

namespace mv::agent {

class Routes {
 public:
  Routes(const Options& options, TokenFile& token, Termination& termination, Forwarder& forwarder, int cancelFd)
      : options_(options), token_(token), termination_(termination), forwarder_(forwarder), cancelFd_(cancelFd) {}
  net::ServerResponse handle(const net::ServerRequest& request);

 private:
  net::ServerResponse preStop(const std::string& peer);
  net::ServerResponse postShutdown();
  net::ServerResponse getShutdown() const;

  const Options& options_;
  TokenFile& token_;
  Termination& termination_;
  Forwarder& forwarder_;
  int cancelFd_;
};

}  // namespace mv::agent
