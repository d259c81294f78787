#pragma once
// The reconcile contract: what a controller calls for each key, and what each outcome makes it do.
//
// Reconciles are level-based. A Request names an object, not an event: the reconciler reads the current state (from
// the informer caches and, when it must, the API server) and drives the world towards the desired state. Requests
// for one key are de-duplicated while they wait, and one key is never reconciled by two workers of one controller at
// once; different keys are reconciled concurrently (--max-concurrent-reconciles).
//
// EFFECTS MUST BE SAFE TO REPEAT. The same Request can be reconciled again at any time: after a requeue, after a
// restart, after a relist, and, because leader election does not fence, by the old and the new leader at the same
// moment during a lease handover. Every write a reconciler makes must therefore be idempotent (create-or-get,
// conditional updates with resourceVersion, patches that converge) and must tolerate finding its work already done.
//
// Outcomes (Result), and what the controller does with each:
// - Result::done()               success: the key's back-off history is forgotten; nothing is scheduled. The key runs
//                                again only when a watched change enqueues it.
// - Result::requeueAfter(d)      success, look again later: back-off forgotten, the key is added again once d has
//                                passed (d > 0; a d <= 0 is treated as requeue()).
// - Result::requeue()            not an error, but try again soon: the key is re-added with the queue's per-key
//                                back-off (5 ms doubling to 1000 s, and the overall 10 qps bucket).
// - Result::error(msg)           a failure worth retrying: logged, counted in reconcile_errors_total, and the key is
//                                re-added with the queue's back-off. This is THE way to report a retryable error.
// - Result::error(msg).retryWithin(d)  the same, but retried within d whatever the back-off has grown to (it still
//                                counts): for a key with work under its own deadlines (a shutdown in flight), so
//                                that an API outage delays those deadlines by at most d once the API answers again.
// - Result::terminal(msg)        a failure that retrying cannot fix (invalid spec, ...): logged, counted in
//                                reconcile_errors_total and terminal_reconcile_errors_total, back-off forgotten, and
//                                the key is NOT re-added; a later change to the object enqueues it again.
// - an exception escaping reconcile() is treated exactly as Result::error(what()): it is caught, logged and retried
//   with back-off, and never ends the process. Prefer returning Result::error; the catch is a safety net.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mv::runtime::reconcile {

// Which object to reconcile. `reason` says what triggered it ("pod web-0 updated", "requeue-after", ...): it is for
// the logs only and must never change what the reconciler does.
struct Request {
  std::string ns;  // empty for cluster-scoped objects
  std::string name;
  std::string reason;

  // The work-queue key: "namespace/name", or "name" when cluster-scoped.
  std::string key() const;
  // Parses a work-queue key; throws std::invalid_argument on an empty name or more than one '/'.
  static Request fromKey(std::string_view key, std::string reason = {});
};

class Result {
 public:
  enum class Kind { Done, Requeue, RequeueAfter, Error, Terminal };
  using Duration = std::chrono::steady_clock::duration;

  static Result done() { return Result(Kind::Done, {}, {}); }
  static Result requeue() { return Result(Kind::Requeue, {}, {}); }
  static Result requeueAfter(Duration d) {
    return d > Duration::zero() ? Result(Kind::RequeueAfter, d, {}) : requeue();
  }
  static Result error(std::string message) { return Result(Kind::Error, {}, std::move(message)); }
  static Result terminal(std::string message) { return Result(Kind::Terminal, {}, std::move(message)); }

  Kind kind() const { return kind_; }
  Duration after() const { return after_; }            // RequeueAfter only
  const std::string& message() const { return message_; }  // Error and Terminal only
  bool isError() const { return kind_ == Kind::Error || kind_ == Kind::Terminal; }
  // Error only: the longest the back-off may delay the retry.
  Result retryWithin(Duration cap) const {
    Result r = *this;
    r.retryCap_ = cap;
    return r;
  }
  const std::optional<Duration>& retryCap() const { return retryCap_; }

 private:
  Result(Kind k, Duration d, std::string m) : kind_(k), after_(d), message_(std::move(m)) {}
  Kind kind_;
  Duration after_;
  std::string message_;
  std::optional<Duration> retryCap_;
};

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  // Called by one worker thread at a time per key, possibly by several threads at once for different keys: an
  // implementation must be thread-safe across keys. See the contract above for what each outcome does.
  virtual Result reconcile(const Request& request) = 0;
};

}  // namespace mv::runtime::reconcile
