#pragma once
// A scripted kube::Transport for unit tests of the API client's logic (paths, headers, error mapping, retries,
// watch decoding). Each call pops the next scripted reply; every request is recorded.

#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "kube/transport.h"

namespace mv::testing {

class FakeTransport final : public kube::Transport {
 public:
  struct Reply {
    kube::HttpResponse response;
    std::vector<std::string> pieces;  // for stream(): body pieces handed to onData, in order
    bool throwTransport = false;
    kube::TransportError::Kind kind = kube::TransportError::Kind::ConnectionFailed;
  };

  void reply(int status, std::string body, std::map<std::string, std::string> headers = {}) {
    Reply r;
    r.response.status = status;
    r.response.body = std::move(body);
    r.response.headers = std::move(headers);
    replies_.push_back(std::move(r));
  }
  void replyStream(std::vector<std::string> pieces) {
    Reply r;
    r.response.status = 200;
    r.pieces = std::move(pieces);
    replies_.push_back(std::move(r));
  }
  void fail(kube::TransportError::Kind kind) {
    Reply r;
    r.throwTransport = true;
    r.kind = kind;
    replies_.push_back(std::move(r));
  }

  kube::HttpResponse send(const kube::HttpRequest& request) override { return next(request).response; }

  kube::HttpResponse stream(const kube::HttpRequest& request, const std::function<void(std::string_view)>& onData,
                            kube::CancelToken&) override {
    Reply r = next(request);
    if (r.response.status >= 200 && r.response.status < 300) {
      // A reply() streamed: its body as one piece, as the real transport hands out a 2xx body and returns none.
      if (r.pieces.empty() && !r.response.body.empty()) r.pieces.push_back(std::move(r.response.body));
      r.response.body.clear();
      for (const auto& p : r.pieces) onData(p);
    }
    return r.response;
  }

  const std::vector<kube::HttpRequest>& requests() const { return requests_; }
  std::size_t pending() const { return replies_.size(); }

 private:
  Reply next(const kube::HttpRequest& request) {
    std::lock_guard<std::mutex> g(mu_);
    requests_.push_back(request);
    if (replies_.empty()) throw std::logic_error("FakeTransport: no scripted reply for " + request.pathAndQuery);
    Reply r = std::move(replies_.front());
    replies_.pop_front();
    if (r.throwTransport) throw kube::TransportError(r.kind, "scripted transport failure");
    return r;
  }
  std::mutex mu_;
  std::deque<Reply> replies_;
  std::vector<kube::HttpRequest> requests_;
};

}  // namespace mv::testing
