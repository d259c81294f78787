#include "runtime/informer/reflector.h"

#include <algorithm>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

#include "runtime/informer/history.h"
#include "runtime/informer/object_key.h"
#include "util/log.h"

namespace mv::runtime::informer {

namespace {

// client-go's watchHandler treats a watch that ends within a second having delivered nothing as a failure (not a
// quiet timeout), so that a server or proxy that closes every watch at once is not hammered.
constexpr std::chrono::seconds kVeryShortWatch{1};

// Thrown from the watch callback when a bookmark shows the server's history went backwards; ends the watch.
class HistoryWentBack : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown from the watch callback when a streaming list cannot complete (an event other than ADDED or BOOKMARK before
// the initial-events-end bookmark); ends the watch. An ERROR event arrives as an ApiError, thrown by the client.
class StreamingListRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// metav1.InitialEventsAnnotationKey: on the BOOKMARK that ends a streaming list's initial events.
bool endsInitialEvents(const json& bookmark) {
  const auto md = bookmark.find("metadata");
  if (md == bookmark.end() || !md->is_object()) return false;
  const auto annotations = md->find("annotations");
  if (annotations == md->end() || !annotations->is_object()) return false;
  const auto end = annotations->find("k8s.io/initial-events-end");
  return end != annotations->end() && end->is_string() && end->get<std::string>() == "true";
}

// Raises `ended` and joins the probe thread when a watch is over, however watchOnce() leaves.
struct ProbeGuard {
  ClockSignal& ended;
  std::thread& thread;
  void finish() {
    ended.raise();
    if (thread.joinable()) thread.join();
  }
  ~ProbeGuard() { finish(); }
};

std::function<double()> defaultRandom() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

}  // namespace

std::string_view stateName(ReflectorState state) {
  switch (state) {
    case ReflectorState::Empty: return "Empty";
    case ReflectorState::InitialListing: return "InitialListing";
    case ReflectorState::StreamingListing: return "StreamingListing";
    case ReflectorState::Watching: return "Watching";
    case ReflectorState::BackingOff: return "BackingOff";
    case ReflectorState::Stopped: return "Stopped";
  }
  return "Unknown";
}

Reflector::Reflector(kube::Client& client, kube::Resource resource, std::string ns, util::Clock& clock,
                     ReflectorSink& sink, ReflectorOptions options)
    : client_(client),
      resource_(std::move(resource)),
      ns_(std::move(ns)),
      clock_(clock),
      sink_(sink),
      options_(std::move(options)),
      backoff_(options_.backoff, options_.random ? options_.random : (options_.random = defaultRandom())) {}

ReflectorState Reflector::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

std::string Reflector::resourceVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resourceVersion_;
}

util::Clock::Duration Reflector::lastBackoff() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lastBackoff_;
}

std::optional<std::string> Reflector::staleReason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stale_;
}

void Reflector::historyReset(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stale_ = why;
  }
  continueToken_.clear();
  transition(ReflectorState::Empty, "HistoryReset, relisting: " + why);
}


void Reflector::transition(ReflectorState to, std::string_view reason) {
  ReflectorState from;
  std::string rv;
  {
    std::lock_guard<std::mutex> lock(mu_);
    from = state_;
    state_ = to;
    rv = resourceVersion_;
  }
  log::info("reflector state", {{"resource", resource_.qualifiedName()},
                                {"namespace", ns_},
                                {"from", stateName(from)},
                                {"to", stateName(to)},
                                {"reason", reason},
                                {"resourceVersion", rv}});
}

void Reflector::run() {
  while (true) {
    if (state() == ReflectorState::Stopped) return;
    if (stopping()) {
      transition(ReflectorState::Stopped, "stop requested");
      return;
    }
    step();
  }
}

void Reflector::stop() {
  stopRequested_.raise();  // first: a watch published after the read below sees stopping() and cancels itself
  std::shared_ptr<kube::CancelToken> cancel;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel = watchCancel_;
  }
  if (cancel) cancel->cancel();
}

void Reflector::step() {
  switch (state()) {
    case ReflectorState::Empty:
      if (options_.streamingList == StreamingList::Auto && !streamingUnavailable_) {
        transition(ReflectorState::StreamingListing, "listing by a streaming list (sendInitialEvents)");
        return;
      }
      listPage();
      return;
    case ReflectorState::InitialListing: listPage(); return;
    case ReflectorState::StreamingListing: watchOnce(true); return;
    case ReflectorState::Watching: watchOnce(false); return;
    case ReflectorState::BackingOff: waitOutBackoff(); return;
    case ReflectorState::Stopped: return;
  }
}

void Reflector::backOff(ReflectorState retry, std::string_view reason) {
  const auto delay = backoff_.next(clock_.now());
  {
    std::lock_guard<std::mutex> lock(mu_);
    retryState_ = retry;
    lastBackoff_ = delay;
    backoffUntil_ = clock_.now() + delay;
  }
  log::warn("reflector backing off", {{"resource", resource_.qualifiedName()},
                                      {"delayMs", static_cast<long>(std::chrono::duration_cast<
                                                                    std::chrono::milliseconds>(delay).count())},
                                      {"error", reason}});
  transition(ReflectorState::BackingOff, reason);
}

void Reflector::waitOutBackoff() {
  ReflectorState retry;
  util::Clock::TimePoint until;
  {
    std::lock_guard<std::mutex> lock(mu_);
    retry = retryState_;
    until = backoffUntil_;
  }
  if (stopRequested_.waitUntil(clock_, until)) return;
  transition(retry, "back-off elapsed");
}

void Reflector::listPage() {
  const bool firstPage = state() == ReflectorState::Empty;
  kube::ListOptions options;
  options.labelSelector = options_.labelSelector;
  options.fieldSelector = options_.fieldSelector;
  options.limit = options_.pageSize;
  options.itemFields = options_.itemFields;
  // The reflector's very first list is client-go's: resourceVersion=0, which the API server answers from its watch
  // cache, whole whatever the limit (cheap for the server; read as it arrives, list_stream.h), possibly a little
  // behind, which the watch from its resourceVersion then catches up. A relist (after a 410 or a history reset) is a
  // consistent read that honours limit, resourceVersion "": the cache must not go back behind what it has seen.
  if (firstPage && options_.firstListFromWatchCache && resourceVersion().empty()) options.resourceVersion = "0";
  if (!firstPage) options.continueToken = continueToken_;
  try {
    std::string note;  // a history reset noticed on the first page: this list is the relist that repairs it
    std::string next;
    std::optional<std::string> wentBack;  // between two pages of one list
    // The page's metadata first, then its items one at a time: the page's whole tree never exists at once.
    client_.listPage(
        resource_, ns_, options,
        [&](const json& page) {
          const std::string pageResourceVersion = resourceVersionOf(page);
          next = stringAt(page, {"metadata", "continue"});
          if (firstPage) {
            if (auto why = historyWentBack(resourceVersion(), pageResourceVersion)) {
              {
                std::lock_guard<std::mutex> lock(mu_);
                stale_ = *why;
              }
              note = " (HistoryReset: " + *why + ")";
            }
            listResourceVersion_ = pageResourceVersion;
            sink_.beginList();
          } else if ((wentBack = historyWentBack(listResourceVersion_, pageResourceVersion))) {
            return false;  // none of this page's items
          }
          return true;
        },
        [&](json&& item) {
          json one = json::array();
          one.push_back(std::move(item));
          sink_.listedItems(one);
        });
    if (wentBack) {
      historyReset(*wentBack + " between two pages of one list");
      return;
    }
    if (!next.empty()) {
      continueToken_ = std::move(next);
      transition(ReflectorState::InitialListing, "page listed" + note);
      return;
    }
    sink_.endList(listResourceVersion_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      resourceVersion_ = listResourceVersion_;
      lastProgress_ = clock_.now();
      stale_.reset();
    }
    continueToken_.clear();
    transition(ReflectorState::Watching, "list complete" + note);
  } catch (const kube::ApiError& e) {
    continueToken_.clear();
    if (e.isGone() && !firstPage) {
      transition(ReflectorState::Empty, std::string("continue token expired, relisting: ") + e.what());
    } else if (isFutureRevision(e) && !firstPage) {
      historyReset(std::string("a continued list is beyond the server's revision: ") + e.what());
    } else {
      backOff(ReflectorState::Empty, std::string("list failed: ") + e.what());
    }
  } catch (const std::exception& e) {
    continueToken_.clear();
    backOff(ReflectorState::Empty, std::string("list failed: ") + e.what());
  }
}

void Reflector::probeHistory(ClockSignal& watchEnded, kube::CancelToken& cancel) {
  // The quiet time before a probe doubles after each probe that finds the history intact, up to the watch's own
  // minimum length: a history goes back only when the API server restarts on a restored etcd, which cuts every
  // watch, so it is the first quiet seconds of a watch that matter. An idle cluster then costs a few lists per
  // watch (10, 20, 40 ... s), not one per historyProbeAfter.
  util::Clock::Duration period = std::chrono::duration_cast<util::Clock::Duration>(options_.historyProbeAfter);
  const util::Clock::Duration longest =
      std::max(period, std::chrono::duration_cast<util::Clock::Duration>(options_.minWatchTimeout));
  util::Clock::TimePoint next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next = lastProgress_ + period;
  }
  while (!watchEnded.waitUntil(clock_, next)) {
    std::string ours;  // read before the list: the list's revision is then at least as new, unless history went back
    {
      std::lock_guard<std::mutex> lock(mu_);
      ours = resourceVersion_;
      next = lastProgress_ + period;
    }
    if (next > clock_.now()) continue;  // the watch advanced meanwhile
    kube::ListOptions options;
    options.labelSelector = options_.labelSelector;
    options.fieldSelector = options_.fieldSelector;
    options.limit = 1;  // resourceVersion "": a consistent read, whose metadata.resourceVersion is the current revision
    std::string current;
    try {
      current = resourceVersionOf(client_.list(resource_, ns_, options));
    } catch (const std::exception& e) {
      log::warn("reflector history probe failed", {{"resource", resource_.qualifiedName()}, {"error", e.what()}});
      next = clock_.now() + period;
      continue;
    }
    if (auto why = historyWentBack(ours, current)) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        probeFoundReset_ = *why + " (a limit=1 list while the watch was quiet)";
      }
      cancel.cancel();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      lastProgress_ = std::max(lastProgress_, clock_.now());
      period = std::min(period * 2, longest);
      next = lastProgress_ + period;
    }
  }
}

void Reflector::streamingListUnavailable(const std::string& why) {
  streamingUnavailable_ = true;
  log::warn("reflector: the API server cannot serve streaming lists, listing by pages from now on",
            {{"resource", resource_.qualifiedName()}, {"reason", why}});
  transition(ReflectorState::Empty, "streaming list unavailable, falling back to a paged list: " + why);
}

void Reflector::watchOnce(bool streamingList) {
  auto cancel = std::make_shared<kube::CancelToken>();
  kube::WatchOptions options;
  options.labelSelector = options_.labelSelector;
  options.fieldSelector = options_.fieldSelector;
  options.allowWatchBookmarks = true;  // a streaming list's end is a bookmark: without them it never ends
  options.sendInitialEvents = streamingList;
  options.itemFields = options_.itemFields;  // the events' objects, as the listed items, only what the transform reads
  const double minSeconds = static_cast<double>(options_.minWatchTimeout.count());
  options.timeoutSeconds = static_cast<long>(minSeconds * (1.0 + options_.random()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A streaming list asks for the current state ("": a consistent read, as the first page of a paged list).
    options.resourceVersion = streamingList ? std::string() : resourceVersion_;
    if (streamingList) lastProgress_ = clock_.now();
    watchCancel_ = cancel;
    probeFoundReset_.reset();
  }
  if (stopping()) cancel->cancel();  // stop() may have run before watchCancel_ was published

  ClockSignal watchEnded;
  std::thread probe;
  if (options_.historyProbeAfter.count() > 0) {
    probe = std::thread([this, &watchEnded, cancel] { probeHistory(watchEnded, *cancel); });
  }
  ProbeGuard probeGuard{watchEnded, probe};

  const auto started = clock_.now();
  long events = 0;
  bool listing = streamingList;  // the streaming list's initial events are still coming
  long initialEvents = 0;
  if (streamingList) sink_.beginList();
  auto onEvent = [&](const kube::WatchEvent& event) {
    ++events;
    if (listing) {
      if (event.type == kube::WatchEvent::Type::Added) {
        json items = json::array({event.object});
        sink_.listedItems(items);
        ++initialEvents;
        return;
      }
      if (event.type == kube::WatchEvent::Type::Bookmark && endsInitialEvents(event.object)) {
        const std::string rv = resourceVersionOf(event.object);
        const auto why = historyWentBack(resourceVersion(), rv);
        sink_.endList(rv);
        {
          std::lock_guard<std::mutex> lock(mu_);
          resourceVersion_ = rv;
          lastProgress_ = clock_.now();
          stale_.reset();
        }
        listing = false;
        transition(ReflectorState::Watching,
                   "streaming list complete (" + std::to_string(initialEvents) + " objects), watching on its stream" +
                       (why ? " (HistoryReset: " + *why + ")" : std::string()));
        return;
      }
      if (event.type == kube::WatchEvent::Type::Bookmark) return;  // a progress bookmark: the list is not over
      if (event.type == kube::WatchEvent::Type::Error) throw kube::apiErrorFromStatus(event.object);
      throw StreamingListRefused(std::string("a ") + std::string(kube::eventTypeName(event.type)) +
                                 " event before the initial-events-end bookmark");
    }
    if (event.type == kube::WatchEvent::Type::Error) throw kube::apiErrorFromStatus(event.object);
    std::string rv = resourceVersionOf(event.object);
    if (event.type == kube::WatchEvent::Type::Bookmark) {
      if (auto why = historyWentBack(resourceVersion(), rv)) throw HistoryWentBack(*why + " (a bookmark)");
    } else {
      sink_.watchEvent(event);
    }
    if (!rv.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (rv != resourceVersion_) lastProgress_ = clock_.now();
      resourceVersion_ = std::move(rv);
    }
  };

  // Ends the watch's bookkeeping; returns what the probe found, if it cancelled the watch.
  auto finish = [&]() -> std::optional<std::string> {
    probeGuard.finish();
    std::lock_guard<std::mutex> lock(mu_);
    watchCancel_.reset();
    return std::exchange(probeFoundReset_, std::nullopt);
  };
  try {
    client_.watch(resource_, ns_, options, onEvent, *cancel);
    auto probeFound = finish();
    if (stopping()) return;
    if (listing && !probeFound) {
      streamingListUnavailable("the stream ended before the initial-events-end bookmark");
    } else if (probeFound) {
      historyReset(*probeFound);
    } else if (events == 0 && clock_.now() - started < kVeryShortWatch) {
      backOff(ReflectorState::Watching, "watch ended at once without events");
    } else {
      transition(ReflectorState::Watching, "watch ended, resuming from the last resourceVersion");
    }
  } catch (const StreamingListRefused& e) {
    finish();
    if (stopping()) return;
    streamingListUnavailable(e.what());
  } catch (const HistoryWentBack& e) {
    finish();
    if (stopping()) return;
    historyReset(e.what());
  } catch (const kube::ApiError& e) {
    auto probeFound = finish();
    if (listing && !probeFound) {
      // The client throws an ERROR event (a server on etcd 3.4.23: 500 "RequestWatchProgress is disabled") and an
      // error status alike; either way a paged list is what works on every server.
      if (stopping()) return;
      streamingListUnavailable(std::string("refused: ") + e.what());
    } else if (probeFound) {
      historyReset(*probeFound);
    } else if (e.isGone()) {
      transition(ReflectorState::Empty, std::string("resourceVersion too old, relisting: ") + e.what());
    } else if (isFutureRevision(e)) {
      historyReset(std::string("the watch is beyond the server's revision: ") + e.what());
    } else {
      backOff(ReflectorState::Watching, std::string("watch failed: ") + e.what());
    }
  } catch (const std::exception& e) {
    auto probeFound = finish();
    if (stopping()) return;
    if (listing && !probeFound) {
      if (events > 0) {
        streamingListUnavailable(std::string("the stream broke before the initial-events-end bookmark: ") + e.what());
      } else {
        backOff(ReflectorState::Empty, std::string("streaming list failed: ") + e.what());
      }
    } else if (probeFound) {
      historyReset(*probeFound);
    } else {
      backOff(ReflectorState::Watching, std::string("watch failed: ") + e.what());
    }
  }
}

}  // namespace mv::runtime::informer
