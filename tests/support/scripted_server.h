#pragma once
// A scripted HTTP/1.1 server for tests, plain or TLS, on 127.0.0.x and an ephemeral port, on its own threads.
//
// The test gives it an ordered script: each entry is an expected request (method, path+query, optional header and
// body assertions) and the reply to play back. The reply is a sequence of steps, so it can be a complete response,
// a chunked body whose pieces arrive with delays or only when the test opens a Gate, a connection closed after N
// bytes, bytes that are not HTTP, or no answer at all.
//
// Contract:
// - Requests are matched against the script in order. A request whose method or path does not match the next entry
//   (or that arrives after the script ran out) is an unexpected request: it is recorded in failures(), answered
//   with 500, and the entry stays next. A header or body assertion that fails is recorded in failures() too, but the
//   entry's reply is still played.
// - Every request received is recorded (requests()), with the subject of the client certificate for TLS.
// - TLS handshakes that fail on the server side are recorded in tlsErrors() (they are not failures: tests of TLS
//   refusal provoke them).
// - Connections are kept alive after a complete (Content-Length) reply, as a real API server does; every other
//   reply ends with the connection closed.
// - The destructor (or stop()) ends every connection and joins every thread; no socket or thread outlives it. A
//   reply blocked on a delay, a Gate or a hang is released by stop().
// - SIGPIPE is ignored process-wide once a server is created (a client may close while the server writes).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mv::testing {

using Headers = std::map<std::string, std::string>;

// A one-shot latch that a scripted reply waits on and the test opens, e.g. once the client has seen an earlier piece.
class Gate {
 public:
  void open();
  bool isOpen() const;
  // Waits until the gate opens (true), `timeout` passes or `stop` becomes true (false).
  bool wait(std::chrono::milliseconds timeout, const std::atomic<bool>& stop) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool open_ = false;
};

struct RecordedRequest {
  std::string method;
  std::string pathAndQuery;
  Headers headers;  // keys lower-cased
  std::string body;
  std::string clientCertSubject;  // one-line subject of the client certificate ("CN=admin, O=..."), empty if none
  std::string clientCertCommonName;
  std::string tlsServerName;  // the SNI the client sent, empty if none
  int connection = 0;         // 1-based number of the connection it came on, in accept order

  std::string header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? std::string() : it->second;
  }
};

// The server's side of one exchange, as a list of steps played in order.
class Reply {
 public:
  struct Step {
    enum class Kind { Bytes, Chunk, LastChunk, Delay, WaitGate, Close, Hang };
    Kind kind;
    std::string data;
    std::chrono::milliseconds duration{0};
    std::shared_ptr<Gate> gate;
  };

  // A complete response with Content-Length (and the given headers).
  static Reply status(int code, std::string body = "", Headers headers = {});
  // A complete response with Content-Type: application/json.
  static Reply json(int code, std::string body, Headers headers = {});
  // The head of a chunked response (Transfer-Encoding: chunked); add chunk(), delay(), waitFor(), then end() or
  // close() (a body cut short).
  static Reply chunked(int code, Headers headers = {});
  // Exactly these bytes, then the connection is closed (e.g. something that is not HTTP).
  static Reply raw(std::string bytes);
  // Reads the request and never answers; the connection stays open until the client leaves or the server stops.
  static Reply hang();

  Reply& chunk(std::string data);             // one HTTP chunk, flushed at once
  Reply& bytes(std::string data);             // raw bytes on the wire
  Reply& delay(std::chrono::milliseconds d);  // pause before the next step
  // Waits until the test opens `gate`. If it is not opened within `timeout`, a failure is recorded and the
  // connection is closed (so a client that buffers shows up as a failure, not a hang).
  Reply& waitFor(std::shared_ptr<Gate> gate, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  Reply& end();    // the terminating zero-length chunk
  Reply& close();  // closes the connection here
  // Sends nothing more and keeps the connection open until the client leaves or the server stops.
  Reply& stall();
  // Sends only the first `n` bytes of everything this reply would send, then closes the connection.
  Reply& cutAfter(std::size_t n);

  const std::vector<Step>& steps() const { return steps_; }
  std::optional<std::size_t> cutAfterBytes() const { return cutAfter_; }
  // True when the reply leaves the connection usable for a next request (a complete Content-Length response).
  bool keepsAlive() const { return keepAlive_; }

 private:
  std::vector<Step> steps_;
  std::optional<std::size_t> cutAfter_;
  bool keepAlive_ = false;
};

struct Expect {
  std::string method;        // empty: any method
  std::string pathAndQuery;  // exact match, unless `pathMatches` is set
  std::function<bool(const std::string&)> pathMatches;
  Headers headers;                  // each must be present with exactly this value (keys lower-case)
  std::optional<std::string> body;  // exact body
  std::function<bool(const std::string&)> bodyMatches;

  Expect() = default;
  Expect(std::string m, std::string p) : method(std::move(m)), pathAndQuery(std::move(p)) {}
  static Expect any() { return Expect(); }
  Expect& header(std::string lowerName, std::string value) {
    headers[std::move(lowerName)] = std::move(value);
    return *this;
  }
  Expect& withBody(std::string b) {
    body = std::move(b);
    return *this;
  }
};

struct ServerOptions {
  std::string bindAddress = "127.0.0.1";
  bool tls = false;
  std::string certPem;  // server certificate (chain) and key, for TLS
  std::string keyPem;
  std::string clientCaPem;         // when set, client certificates are requested and verified against it
  bool requireClientCert = false;  // with clientCaPem: a client without a certificate fails the handshake
  bool tls12Only = false;          // cap the protocol at TLS 1.2 (default: up to TLS 1.3)
  // Bytes written as soon as a connection is accepted, before any request, then the connection is closed (a
  // server of another protocol on the port, e.g. an SSH banner). Plain servers only.
  std::string banner;
};

class ScriptedServer {
 public:
  explicit ScriptedServer(ServerOptions options = {});
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  // Appends an entry to the script; may be called while the server runs.
  ScriptedServer& expect(Expect request, Reply reply);

  std::uint16_t port() const { return port_; }
  std::string url() const;  // "http(s)://<bindAddress>:<port>"

  std::vector<RecordedRequest> requests() const;
  std::vector<std::string> failures() const;
  std::vector<std::string> tlsErrors() const;
  std::size_t pendingEntries() const;  // script entries not matched yet
  int connectionsAccepted() const { return connections_.load(); }
  // Waits until at least `n` requests were received, or `timeout` passes.
  bool waitForRequests(std::size_t n, std::chrono::milliseconds timeout) const;
  // Waits until at least `n` TLS handshake errors were recorded, or `timeout` passes.
  bool waitForTlsErrors(std::size_t n, std::chrono::milliseconds timeout) const;

  // Closes every connection and joins every thread. Idempotent.
  void stop();

 private:
  struct Connection;
  struct Entry {
    Expect expect;
    Reply reply;
  };

  void acceptLoop();
  void serve(std::shared_ptr<Connection> conn);
  // Finds the script entry for `req` (recording a failure when there is none); returns the reply to play.
  Reply match(const RecordedRequest& req);
  // Plays `reply`; returns false when the connection must be closed afterwards.
  bool play(Connection& conn, const Reply& reply);
  void recordFailure(std::string failure);
  // Sleeps up to `d`; returns false when the server is stopping.
  bool pause(std::chrono::milliseconds d);

  ServerOptions options_;
  int listenFd_ = -1;
  std::uint16_t port_ = 0;
  void* sslCtx_ = nullptr;  // SSL_CTX*, owned
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // signalled on a new request, a TLS error, and on stop
  std::vector<Entry> script_;
  std::size_t next_ = 0;
  std::vector<RecordedRequest> requests_;
  std::vector<std::string> failures_;
  std::vector<std::string> tlsErrors_;
  std::vector<std::shared_ptr<Connection>> open_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

}  // namespace mv::testing
