// The real Transport: cpprestsdk's asio http_client, TLS set up by TlsPolicy.
//
// Contract beyond kube/transport.h:
// - One cpprest client per distinct request timeout (cpprest's timeout is per client), kept for reuse so connections
//   are pooled; at most kMaxPooledClients of them, further timeouts get a client for that request only.
// - cpprest's timeout is an inactivity timeout (reset by every piece of data). send() also enforces the request's
//   total deadline: a timer on the shared I/O pool cancels the request when it runs out. stream() only has the
//   inactivity timeout, as transport.h says.
// - A timeout of zero or less means no limit.
// - Cancellation (CancelToken, deadline, or an exception from onData) closes the request's connection, so a
//   half-read connection never goes back to the pool.
// - Redirects are not followed: a 3xx is returned like any other status.
// - Error mapping: cpprest reports failures as http_exception(error value, vague text). The value is an errno, or an
//   OpenSSL error code for TLS failures (classified by TlsPolicy). Failures after the headers arrived mean the body
//   was cut short (Protocol), unless they are a cancellation or a timeout.

#include <cpprest/http_client.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <pplx/threadpool.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "kube/body_window.h"
#include "kube/tls_context.h"
#include "kube/transport.h"

namespace mv::kube {
namespace {

namespace http = web::http;
using Kind = TransportError::Kind;

constexpr std::size_t kMaxPooledClients = 8;
// How much of a streamed body may wait unread (BodyWindow): a few of cpprest's 64 KiB reads.
constexpr std::size_t kStreamWindowBytes = 256u << 10;
// What "no limit" means to cpprest, which needs some timeout.
constexpr std::chrono::milliseconds kNoLimit = std::chrono::hours(24 * 365);

// The number of threads of cpprest's pool, when this module sized it (0: unknown).
std::atomic<int> ioPoolThreads{0};

// At exit, cpprest stops its pool with whatever is queued in it, and pplx continuations queued there (for instance
// the clean-up after a cancelled request) are dropped without being freed. So before that, the queue is let run:
// a few rounds in which every pool thread runs a marker at the same time (which means that everything queued before
// the markers has run), each round bounded in time.
void drainIoPoolAtExit() {
  const int threads = ioPoolThreads.load();
  if (threads <= 0) return;
  auto& service = crossplat::threadpool::shared_instance().service();
  for (int round = 0; round < 4; ++round) {
    struct Barrier {
      std::mutex mu;
      std::condition_variable cv;
      int arrived = 0;
      bool released = false;
    };
    auto barrier = std::make_shared<Barrier>();
    for (int i = 0; i < threads; ++i) {
      service.post([barrier, threads] {
        std::unique_lock<std::mutex> lock(barrier->mu);
        ++barrier->arrived;
        barrier->cv.notify_all();
        barrier->cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return barrier->released; });
      });
    }
    std::unique_lock<std::mutex> lock(barrier->mu);
    bool all = barrier->cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return barrier->arrived == threads; });
    barrier->released = true;
    barrier->cv.notify_all();
    if (!all) return;  // a thread is stuck in something long: give up rather than delay exit
  }
}

// cpprest's process-wide I/O pool: sized once, before the first client exists.
//
// Exit order matters. Exit handlers run in the reverse order of their registration: cpprest registers the pool's
// destruction (which joins its threads) when the pool is created, OpenSSL registers OPENSSL_cleanup when it is first
// initialised. If OpenSSL came second, its clean-up ran first, while a pool thread could still be finishing a TLS
// connection (a failed connect's SSL_free): that thread then blocked on OpenSSL's freed lock and the process hung at
// exit, or crashed (seen: kubectl-medivote against an unreachable server, about 1 run in 150). So OpenSSL is
// initialised before the pool exists, and its clean-up runs after the pool's threads are joined.
void initializeIoPool(int threads) {
  static std::once_flag once;
  std::call_once(once, [threads] {
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, nullptr);
    const int n = threads > 0 ? threads : 1;
    try {
      crossplat::threadpool::initialize_with_threads(static_cast<std::size_t>(n));
      ioPoolThreads = n;
    } catch (const std::exception&) {
      // The pool already exists (something used cpprest first); it is fixed either way.
    }
    std::atexit(&drainIoPoolAtExit);  // registered after the pool exists, so it runs before the pool is destroyed
  });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The per-request state shared with the cancellation callbacks and the deadline timer, which may outlive the call.
struct CallState {
  pplx::cancellation_token_source cts;
  std::atomic<bool> userCancelled{false};
  std::atomic<bool> deadlineExpired{false};
};

enum class Phase { Headers, Body };

// Cancels the request on every exit but a complete one, so its connection is closed rather than pooled.
// Then waits (briefly) until cpprest has finished with the reply, so that nothing of the call is left in flight.
struct CancelUnlessDone {
  explicit CancelUnlessDone(std::shared_ptr<CallState> s) : state(std::move(s)) {}
  std::shared_ptr<CallState> state;
  std::optional<http::http_response> reply;  // set once the headers arrived
  bool done = false;
  ~CancelUnlessDone() {
    if (done) return;
    state->cts.cancel();
    if (!reply) return;
    auto finished = std::make_shared<std::promise<void>>();
    auto future = finished->get_future();
    reply->content_ready().then([finished](pplx::task<http::http_response> t) {
      try {
        t.wait();
      } catch (...) {
        // The error was already reported (or is the cancellation itself).
      }
      finished->set_value();
    });
    future.wait_for(std::chrono::seconds(2));
  }
};

// Ties a CancelToken to the call for its duration.
class CancelSubscription {
 public:
  CancelSubscription(CancelToken& token, std::shared_ptr<CallState> state) : token_(token) {
    id_ = token_.subscribe([state] {
      state->userCancelled = true;
      state->cts.cancel();
    });
  }
  ~CancelSubscription() { token_.unsubscribe(id_); }

 private:
  CancelToken& token_;
  int id_;
};

// Cancels the call when `timeout` runs out (a timer on the shared I/O pool, not a thread).
class Deadline {
 public:
  Deadline(std::chrono::milliseconds timeout, const std::shared_ptr<CallState>& state) {
    if (timeout <= std::chrono::milliseconds::zero()) return;
    timer_ = std::make_unique<boost::asio::steady_timer>(crossplat::threadpool::shared_instance().service());
    timer_->expires_after(timeout);
    timer_->async_wait([state](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: the call ended first
      state->deadlineExpired = true;
      state->cts.cancel();
    });
  }
  ~Deadline() {
    if (timer_) timer_->cancel();
  }

 private:
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

class CpprestTransport final : public Transport {
 public:
  CpprestTransport(const ConnectionConfig& config, const TransportOptions& options) : options_(options) {
    initializeIoPool(options.ioThreads);
    server_ = config.server;
    while (!server_.empty() && server_.back() == '/') server_.pop_back();
    try {
      base_ = web::uri(server_);
    } catch (const std::exception& e) {
      throw ConfigError("the server " + server_ + " of " + config.source + " is not a valid URL: " + e.what());
    }
    const std::string scheme = lower(base_.scheme());
    if ((scheme != "https" && scheme != "http") || base_.host().empty())
      throw ConfigError("the server " + server_ + " of " + config.source +
                        " is not an http:// or https:// URL with a host");
    tlsEnabled_ = scheme == "https";
    if (tlsEnabled_) {
      std::string host = base_.host();
      if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      tls_ = detail::TlsPolicy::create(config, server_, host);
    }
  }

  HttpResponse send(const HttpRequest& request) override {
    auto state = std::make_shared<CallState>();
    CancelUnlessDone guard(state);
    Deadline deadline(request.timeout, state);
    http::http_response reply = start(request, *state);
    guard.reply = reply;
    HttpResponse out = head(reply);
    readWhole(reply, request, *state, out.body);
    guard.done = true;
    return out;
  }

  HttpResponse stream(const HttpRequest& request, const std::function<void(std::string_view)>& onData,
                      CancelToken& cancel) override {
    auto state = std::make_shared<CallState>();
    CancelUnlessDone guard(state);
    CancelSubscription subscription(cancel, state);
    if (state->userCancelled)
      throw TransportError(Kind::Cancelled, describe(request) + ": cancelled before it started");
    // The body arrives through a bounded window (body_window.h): cpprest reads no further ahead than it.
    auto window = std::make_shared<BodyWindow>(kStreamWindowBytes);
    struct AbandonOnExit {  // declared after `guard`, so it runs first: cpprest is not left waiting on the window
      std::shared_ptr<BodyWindow> window;
      ~AbandonOnExit() { window->abandon(); }
    } abandonOnExit{window};
    http::http_response reply = start(request, *state, window);
    guard.reply = reply;
    reply.content_ready().then([window](pplx::task<http::http_response> t) {
      try {
        t.get();
        window->finish(nullptr);
      } catch (...) {
        window->finish(std::current_exception());
      }
    });
    HttpResponse out = head(reply);
    std::string piece;
    // False at the end of the body; throws what ended it early.
    auto next = [&] {
      if (window->take(piece)) return true;
      if (auto error = window->error()) throw translate(error, request, *state, Phase::Body);
      return false;
    };
    if (out.status < 200 || out.status > 299) {
      const std::size_t limit = options_.maxBodyBytes;
      if (reply.headers().content_length() > limit) throw tooLarge(request, reply.headers().content_length());
      while (next()) {
        if (out.body.size() + piece.size() > limit) throw tooLarge(request, out.body.size() + piece.size());
        out.body += piece;
      }
      guard.done = true;
      return out;
    }
    while (next()) onData(piece);  // an exception from onData propagates as is; the guard closes the connection
    if (state->userCancelled) throw TransportError(Kind::Cancelled, describe(request) + ": cancelled");
    guard.done = true;
    return out;
  }

 private:
  // Sends the request and waits for the status line and headers.
  http::http_response start(const HttpRequest& request, CallState& state,
                            const std::shared_ptr<BodyWindow>& window = nullptr) {
    try {
      http::http_request msg = build(request);
      if (window) msg.set_response_stream(concurrency::streams::streambuf<uint8_t>(window).create_ostream());
      auto client = clientFor(request.timeout);
      return client->request(msg, state.cts.get_token()).get();
    } catch (...) {
      throw translate(std::current_exception(), request, state, Phase::Headers);
    }
  }

  http::http_request build(const HttpRequest& request) const {
    http::http_request msg(request.method);
    msg.set_request_uri(web::uri(request.pathAndQuery.empty() ? std::string("/") : request.pathAndQuery));
    std::string contentType = "application/json";
    for (const auto& [k, v] : request.headers) {
      if (lower(k) == "content-type")
        contentType = v;
      else
        msg.headers().add(k, v);
    }
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" || request.method == "PATCH") {
      // The byte-vector overload: cpprest's string overload reads a char buffer through a uint8_t stream (UB).
      msg.set_body(std::vector<unsigned char>(request.body.begin(), request.body.end()));
      msg.headers().set_content_type(contentType);
    }
    return msg;
  }

  std::shared_ptr<http::client::http_client> clientFor(std::chrono::milliseconds timeout) {
    if (timeout <= std::chrono::milliseconds::zero()) timeout = kNoLimit;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = clients_.find(timeout.count());
    if (it != clients_.end()) return it->second;
    http::client::http_client_config cfg;
    cfg.set_timeout(timeout);
    cfg.set_max_redirects(0);
    if (tls_) {
      cfg.set_validate_certificates(!tls_->insecure());
      auto tls = tls_;
      cfg.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) { tls->configure(ctx.native_handle()); });
    }
    auto client = std::make_shared<http::client::http_client>(base_, cfg);
    if (clients_.size() < kMaxPooledClients) clients_.emplace(timeout.count(), client);
    return client;
  }

  static HttpResponse head(const http::http_response& reply) {
    HttpResponse out;
    out.status = reply.status_code();
    for (const auto& [k, v] : reply.headers()) out.headers[lower(k)] = v;
    return out;
  }

  // Waits for at least one byte, then takes whatever else has arrived. False at the end of the body.
  static bool readPiece(concurrency::streams::streambuf<uint8_t>& body, std::string& piece) {
    using traits = concurrency::streams::streambuf<uint8_t>::traits;
    auto c = body.bumpc().get();
    if (c == traits::eof()) return false;
    piece.assign(1, static_cast<char>(c));
    std::size_t avail = body.in_avail();
    if (avail > 0) {
      piece.resize(1 + avail);
      std::size_t got = body.getn(reinterpret_cast<uint8_t*>(piece.data() + 1), avail).get();
      piece.resize(1 + got);
    }
    return true;
  }

  TransportError tooLarge(const HttpRequest& request, std::uint64_t bytes) const {
    return TransportError(Kind::Protocol, describe(request) + ": the response body (" + std::to_string(bytes) +
                                              " bytes or more) exceeds the limit of " +
                                              std::to_string(options_.maxBodyBytes) + " bytes");
  }

  void readWhole(http::http_response& reply, const HttpRequest& request, CallState& state, std::string& out) {
    const std::size_t limit = options_.maxBodyBytes;
    if (reply.headers().content_length() > limit) throw tooLarge(request, reply.headers().content_length());
    auto body = reply.body().streambuf();
    std::string piece;
    try {
      while (readPiece(body, piece)) {
        if (out.size() + piece.size() > limit) throw tooLarge(request, out.size() + piece.size());
        out += piece;
      }
      reply.content_ready().get();
    } catch (const TransportError&) {
      throw;
    } catch (...) {
      throw translate(std::current_exception(), request, state, Phase::Body);
    }
  }

  std::string describe(const HttpRequest& request) const {
    return request.method + " " + server_ + request.pathAndQuery;
  }

  // The TransportError for an exception that cpprest raised during `phase` of `request`.
  TransportError translate(std::exception_ptr error, const HttpRequest& request, const CallState& state,
                           Phase phase) const {
    const std::string what = describe(request);
    if (state.userCancelled) return TransportError(Kind::Cancelled, what + ": cancelled");
    if (state.deadlineExpired)
      return TransportError(Kind::Timeout, what + ": no complete reply within the request timeout of " +
                                               std::to_string(request.timeout.count()) + " ms");
    try {
      std::rethrow_exception(error);
    } catch (const TransportError& e) {
      return e;
    } catch (const http::http_exception& e) {
      return fromHttpException(e.error_code().value(), e.what(), what, request, phase);
    } catch (const pplx::task_canceled&) {
      return TransportError(Kind::Cancelled, what + ": cancelled");
    } catch (const web::uri_exception& e) {
      return TransportError(Kind::Protocol, what + ": the request path is not a valid URI: " + e.what());
    } catch (const std::exception& e) {
      return TransportError(phase == Phase::Body ? Kind::Protocol : Kind::ConnectionFailed, what + ": " + e.what());
    }
  }

  TransportError fromHttpException(int cpprestCode, const std::string& cpprestText, const std::string& what,
                                   const HttpRequest& request, Phase phase) const {
    const std::string detail = " (" + cpprestText + ")";
    // cpprest reports a broken pipe while writing the request as "host unreachable"; undo that.
    const int code =
        cpprestCode == EHOSTUNREACH && cpprestText.find("write request") != std::string::npos ? EPIPE : cpprestCode;
    if (tls_ && detail::TlsPolicy::isOpensslError(code)) {
      TransportError e =
          tls_->classify(static_cast<unsigned long>(code), phase == Phase::Headers ? "the TLS handshake or the "
                                                                                     "request"
                                                                                   : "reading the response body");
      // A TLS record error in the body is still a body cut short.
      if (phase == Phase::Body && e.kind() == Kind::Tls)
        return TransportError(Kind::Protocol, what + ": the response body was cut short: " + e.what());
      return TransportError(e.kind(), what + ": " + e.what());
    }
    switch (code) {
      case ETIMEDOUT:
        return TransportError(
            Kind::Timeout, what + ": nothing received for " + std::to_string(request.timeout.count()) + " ms" + detail);
      case ECANCELED: return TransportError(Kind::Cancelled, what + ": cancelled" + detail);
      case ECONNREFUSED:
      case EHOSTUNREACH:  // cpprest reports a refused connection as "host unreachable"
      case ENETUNREACH:
      case EADDRNOTAVAIL:
        return TransportError(Kind::ConnectionFailed, what + ": cannot connect to " + server_ +
                                                          " (connection refused or host unreachable)" + detail);
      default: break;
    }
    if (cpprestText.find("resolv") != std::string::npos)
      return TransportError(Kind::ConnectionFailed, what + ": cannot resolve the host of " + server_ + detail);
    // A TLS connection closed by the server: boost reports an EOF without close_notify as "stream truncated" (1).
    const bool closed = code == ECONNRESET || code == ECONNABORTED || code == EPIPE || (tls_ && code == 1);
    if (tls_ && closed && phase == Phase::Headers)
      if (auto e = tls_->explainEarlyClose()) return TransportError(e->kind(), what + ": " + e->what() + detail);
    if (phase == Phase::Body)
      return TransportError(
          Kind::Protocol,
          what + (code == 0 ? ": the response body is malformed" : ": the response body was cut short") + detail);
    if (closed)
      return TransportError(Kind::ConnectionFailed,
                            what + ": the connection was closed before a complete reply arrived" + detail);
    return TransportError(Kind::Protocol, what + ": the reply is not valid HTTP" + detail);
  }

  TransportOptions options_;
  std::string server_;
  web::uri base_;
  bool tlsEnabled_ = false;
  std::shared_ptr<detail::TlsPolicy> tls_;
  std::mutex mu_;
  std::map<long long, std::shared_ptr<http::client::http_client>> clients_;
};

}  // namespace

std::unique_ptr<Transport> makeCpprestTransport(const ConnectionConfig& config, const TransportOptions& options) {
  return std::make_unique<CpprestTransport>(config, options);
}

}  // namespace mv::kube
