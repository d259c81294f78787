#pragma once
// The agent's HTTP API:
//   GET|HEAD /healthz   200 "ok", no authentication (for probes)
//   POST /shutdown      forwards to the service; answers with the service's status (and its Retry-After) and
//                       {"forwarded":true,"status":N,"target":"127.0.0.1:8546"}; 502 {"forwarded":false,...} when
//                       the service cannot be reached, except once the service is done: then 200
//                       {"forwarded":false,"state":"done"} (the shutdown it asks for has happened)
//   GET /shutdown       {"state":"idle|forwarded|done","serviceStatus":N}
// Every route but /healthz needs "Authorization: Bearer <token>" (401 otherwise). Other paths 404, other methods
// 405. Each request is logged with its peer, never with its headers.

#include "forwarder.h"
#include "net/http_server.h"
#include "token_file.h"

namespace mv::agent {

class Routes {
 public:
  Routes(TokenFile& token, Forwarder& forwarder) : token_(token), forwarder_(forwarder) {}
  net::ServerResponse handle(const net::ServerRequest& request);

 private:
  net::ServerResponse postShutdown();
  net::ServerResponse getShutdown() const;

  TokenFile& token_;
  Forwarder& forwarder_;
};

}  // namespace mv::agent
