#pragma once
// Kubernetes Events about objects, so that `kubectl describe` tells their story.
//
// Contract:
// - record() never throws and never blocks the caller on the API: an Event that cannot be written is logged and
//   dropped (Events are best-effort in Kubernetes too). Every Event is also written to the log.
// - Repeats of the same (object, type, reason, message) within the aggregation window update one Event's count and
//   lastTimestamp instead of creating another, as client-go's recorder does.

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
    int count;
    util::WallTime first;
    util::WallTime last;
  };
  void loop();
  void write(const Pending& p);

  kube::Client& client_;
  util::Clock& clock_;
  std::string component_;
  std::string host_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  int inFlight_ = 0;
  std::map<std::string, Written> written_;  // aggregation key → the Event written for it
  std::thread thread_;
};

}  // namespace mv::runtime::events
