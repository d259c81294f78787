#pragma once
// Kubernetes Events about objects, so that `kubectl describe` tells their story.
//
// Contract:
// - record() never throws and never blocks the caller on the API: an Event that cannot be written is logged and
//   dropped (Events are best-effort in Kubernetes too). Every Event is also written to the log.
// - Repeats of the same (object, type, reason, message) within the aggregation window update one Event's count and
//   lastTimestamp instead of creating another, as client-go's recorder does.
// - What it remembers for that is bounded: an entry is forgotten once its window is over (it can never aggregate
//   again), when forget() is told its object is gone, and beyond kMaxRemembered entries the least recently written
//   goes first (client-go's EventCorrelator keeps an LRU of 4,096). Forgetting only ever costs a new Event where a
//   count would have grown.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "kube/client.h"
#include "util/clock.h"
#include "util/time_format.h"

namespace mv::runtime::events {

using json = nlohmann::json;

// The object an Event is about.
struct ObjectRef {
  std::string apiVersion;
  std::string kind;
  std::string ns;
  std::string name;
  std::string uid;
  static ObjectRef of(const json& object);  // from an object's apiVersion, kind and metadata
};

class EventRecorder {
 public:
  virtual ~EventRecorder() = default;
  virtual void record(const ObjectRef& object, bool warning, const std::string& reason, const std::string& message) = 0;
};

// Writes core/v1 Events through the API client on a background thread (bounded queue of 1000; beyond it, Events are
// dropped with a log line).
class KubeEventRecorder final : public EventRecorder {
 public:
  KubeEventRecorder(kube::Client& client, util::Clock& clock, std::string component, std::string host);
  ~KubeEventRecorder() override;
  void record(const ObjectRef& object, bool warning, const std::string& reason, const std::string& message) override;
  // Waits until every queued Event was written or dropped (tests, shutdown).
  void flush();
  // The object of this uid is gone (deleted): its Events cannot aggregate with a new object's, whose uid differs.
  // Its remembered entries are dropped, and Events still recorded about it afterwards (a shutdown's completion is told
  // once the pod is gone) are written without being remembered, for the aggregation window.
  void forget(const std::string& uid);
  // How many Events it remembers for aggregation (tests, the soak benchmark).
  std::size_t remembered() const;

  static constexpr std::chrono::minutes kAggregationWindow{10};
  static constexpr std::size_t kMaxRemembered = 4096;

 private:
  struct Pending {
    ObjectRef object;
    bool warning;
    std::string reason;
    std::string message;
    util::WallTime time;
  };
  struct Written {
    std::string name;
    std::string uid;
    int count;
    util::WallTime first;
    util::WallTime last;
  };
  void loop();
  void write(const Pending& p);
  // Forgets the entries whose window ended (at most once a minute, or at once when over kMaxRemembered), then the
  // least recently written beyond kMaxRemembered. Holds writtenMu_.
  void forgetExpired(util::WallTime now);

  kube::Client& client_;
  util::Clock& clock_;
  std::string component_;
  std::string host_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  int inFlight_ = 0;
  mutable std::mutex writtenMu_;             // written_ and lastExpiry_: the writer thread and forget()
  std::map<std::string, Written> written_;  // aggregation key → the Event written for it
  std::map<std::string, util::WallTime> gone_;  // uid → when forget() was told it is gone
  util::WallTime lastExpiry_{};
  std::thread thread_;
};

}  // namespace mv::runtime::events
