#pragma once
// The reflector: keeps a sink (the informer's cache) equal to the API server's state of one resource type by
// listing, then watching, as an explicit state machine (the shape of kube-rs's watcher.rs).
//
// state           its step                          outcome                                 next state
// Empty           streaming list chosen (options:   (nothing called yet)                    StreamingListing
//                 streamingList Auto, and the
//                 server not known to refuse it)
//                 else: list the first page         more pages                              InitialListing
//                 (limit, resourceVersion "": a     last page: the list replaces the cache  Watching
//                 consistent snapshot; the first    failure                                 BackingOff, then Empty
//                 list of its life resource-
//                 Version "0": the watch cache's,
//                 one page whatever the limit)
// StreamingListing  watch with sendInitialEvents,   the initial-events-end BOOKMARK: the    Watching (same stream,
//                 resourceVersionMatch=NotOlder-    ADDED events so far replace the cache   no new request)
//                 Than, resourceVersion "",         an ERROR event or error status (the     Empty: streaming off for
//                 bookmarks on                      client tells them apart no more than    good, paged lists from
//                                                   that), MODIFIED/DELETED, or the stream  now on (logged once)
//                                                   ending or broken after an event, all
//                                                   before that bookmark
//                                                   no answer (connection refused, reset)   BackingOff, then Empty
// InitialListing  list the next page (continue)     more pages                              InitialListing
//                                                   last page: the list replaces the cache  Watching
//                                                   410: the continue token expired         Empty, at once
//                                                   HistoryReset: a future revision error,  Empty, at once
//                                                   or the page's resourceVersion is lower
//                                                   than the first page's
//                                                   other failure                           BackingOff, then Empty
// Watching        watch from resourceVersion(),     quiet end (the server's timeout)        Watching, at once
//                 bookmarks on, timeoutSeconds      410, as HTTP status or ERROR event      Empty, at once (relist)
//                 random in [min, 2*min); while     HistoryReset: a bookmark lower than     Empty, at once (relist)
//                 no event or bookmark advanced     resourceVersion(); a future revision
//                 the resourceVersion for           error (HTTP status or ERROR event);
//                 historyProbeAfter, a limit=1      the probe's list is at a lower
//                 list (resourceVersion "") probes  resourceVersion (the watch is
//                 the server's current revision     cancelled)
//                                                   other failure (dropped stream, 5xx,     BackingOff, then
//                                                   refused, an at-once end without events) Watching (same RV)
// BackingOff      wait the back-off (800 ms         elapsed                                 the saved state
//                 doubling to 30 s, reset after
//                 2 min without failure)
// any             stop()                                                                    Stopped
//
// History reset (see history.h): an API server restarted on a restored etcd answers a watch from a resourceVersion
// beyond its revision with 200 and nothing, forever. Detected (resourceVersions compared only when both are
// decimal) from a list or bookmark lower than the last seen one, from a future revision error, or by the probe
// above; the cache is then stale (staleReason()) until the relist that follows completes. A first page lower than
// the last seen resourceVersion is itself that relist: it is noted in the transition's reason and replaces the cache.
//
// Streaming lists (KEP-3157; a 1.32 server on etcd >= 3.4.31/3.5.13): no list request and no large response, the
// state arrives as ADDED events that the sink takes as list items (one listedItems per event), and the watch goes on
// from the bookmark's resourceVersion on the same stream. A server that cannot (etcd 3.4.23 answers one ERROR 500
// event, "RequestWatchProgress is disabled") or a proxy that mangles it is remembered: every later relist pages.
// Nothing is lost or doubled by the fallback: the sink's pending list is discarded by the paged list's beginList.
//
// Contract:
// - The sink sees, in order: beginList, listedItems per page (or per initial event of a streaming list), endList(rv)
//   for every complete list (the first one and every relist); then watchEvent for each ADDED/MODIFIED/DELETED event. A relist's endList replaces the
//   sink's content. An incomplete list (a failed page) is abandoned: the next beginList starts over.
// - Bookmarks advance resourceVersion() and reach no sink.
// - Every state change goes through one function, which logs it (resource, from, to, reason, resourceVersion); a
//   history reset's reason starts with "HistoryReset".
// - The probe runs on a thread of its own for the duration of each watch, with the reflector's clock; it makes no
//   call while events or bookmarks keep advancing the resourceVersion; its quiet time before a probe starts at
//   historyProbeAfter and doubles after each probe that found the history intact (at most minWatchTimeout).
// - run() blocks until stop(); stop() may be called from any thread, before or during run().

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "kube/client.h"
#include "runtime/informer/backoff.h"
#include "runtime/informer/clock_signal.h"
#include "util/clock.h"

namespace mv::runtime::informer {

using json = nlohmann::json;

enum class ReflectorState {
  Empty,             // nothing listed yet, or the last list was abandoned: the next step starts a list
  InitialListing,    // pages are being listed: the next step fetches the page of the saved continue token
  StreamingListing,  // the next step opens a streaming list and, once its initial events end, watches on it
  Watching,        // listed: the next step (re)starts a watch from resourceVersion() and streams it
  BackingOff,      // a failure happened: waiting before retrying the state saved for it
  Stopped,         // stop() was called: run() has returned or is returning
};

std::string_view stateName(ReflectorState state);

// Where a reflector delivers what it learns. Called on the reflector's thread only.
class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // A full list begins; a partially delivered earlier one is to be discarded.
  virtual void beginList() = 0;
  // The items of one page (a JSON array; the sink may move from them).
  virtual void listedItems(json& items) = 0;
  // The list is complete at `resourceVersion`: it replaces everything the sink had.
  virtual void endList(const std::string& resourceVersion) = 0;
  // An ADDED, MODIFIED or DELETED event (never a BOOKMARK or ERROR).
  virtual void watchEvent(const kube::WatchEvent& event) = 0;
};

// How the reflector lists: Off pages (limit, continue); Auto tries a streaming list first and pages from then on if
// the server cannot serve one.
enum class StreamingList { Off, Auto };

struct ReflectorOptions {
  StreamingList streamingList = StreamingList::Off;
  std::string labelSelector;
  std::string fieldSelector;
  long pageSize = 500;  // client-go's pager default
  // The first list of the reflector's life asks for resourceVersion=0, as client-go does (the watch cache answers it
  // whole); relists are consistent paged reads whatever this says. False: every list is a consistent paged read.
  bool firstListFromWatchCache = true;
  // The members of each listed item and watched object to decode at all (kube::ListOptions::itemFields,
  // kube::WatchOptions::itemFields): set with a transform that reads no other (transforms.h). Null = every member.
  std::shared_ptr<const kube::JsonFieldFilter> itemFields;
  // Each watch asks the server to end it after minWatchTimeout * (1 + random()), client-go's 5 to 10 minutes.
  std::chrono::seconds minWatchTimeout{300};
  BackoffPolicy backoff;
  // While watching, a watch that has not advanced the resourceVersion for this long (a quiet watch: the real server
  // bookmarks about once a minute) is checked by a limit=1 list for a history that went backwards; then again after
  // twice the previous quiet time, up to minWatchTimeout. Zero disables the probe. 10 s lets a restored server (which
  // cuts every watch: the next watch starts the probing afresh) be noticed, relisted and reconciled well within
  // 30 s, for a few cheap lists per informer per watch on an idle cluster.
  std::chrono::seconds historyProbeAfter{10};
  // Uniform in [0, 1). Default: a pseudo-random generator seeded from std::random_device.
  std::function<double()> random;
};

class Reflector {
 public:
  // `ns` "" watches all namespaces. The client, clock and sink must outlive the reflector.
  Reflector(kube::Client& client, kube::Resource resource, std::string ns, util::Clock& clock, ReflectorSink& sink,
            ReflectorOptions options = {});
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  void run();
  void stop();

  ReflectorState state() const;
  // The last resourceVersion seen (list, event or bookmark): where a resumed watch starts.
  std::string resourceVersion() const;
  // The delay of the last back-off (zero before any).
  util::Clock::Duration lastBackoff() const;
  // Why the sink is known to be stale (a history reset was detected and the relist has not completed), or nullopt.
  std::optional<std::string> staleReason() const;

 private:
  void step();
  void listPage();
  // Watching: a watch from resourceVersion(). StreamingListing: a streaming list, then the watch on its stream.
  void watchOnce(bool streamingList);
  // The server cannot serve streaming lists: remember it, log it once, and list by pages from now on.
  void streamingListUnavailable(const std::string& why);
  void waitOutBackoff();
  void backOff(ReflectorState retry, std::string_view reason);
  // The probe's loop for one watch: returns when `watchEnded` is raised, or after cancelling the watch.
  void probeHistory(ClockSignal& watchEnded, kube::CancelToken& cancel);
  // Marks the sink stale and moves to Empty at once (a relist from scratch).
  void historyReset(const std::string& why);
  // The one place the state changes.
  void transition(ReflectorState to, std::string_view reason);
  bool stopping() const { return stopRequested_.raised(); }

  kube::Client& client_;
  const kube::Resource resource_;
  const std::string ns_;
  util::Clock& clock_;
  ReflectorSink& sink_;
  ReflectorOptions options_;
  ReconnectBackoff backoff_;

  mutable std::mutex mu_;
  ReflectorState state_ = ReflectorState::Empty;
  std::string resourceVersion_;
  std::string continueToken_;       // InitialListing: the next page's token
  std::string listResourceVersion_; // InitialListing: the first page's resourceVersion
  ReflectorState retryState_ = ReflectorState::Empty;  // BackingOff: where to go after the wait
  util::Clock::TimePoint backoffUntil_{};
  util::Clock::Duration lastBackoff_{0};
  std::shared_ptr<kube::CancelToken> watchCancel_;
  util::Clock::TimePoint lastProgress_{};        // Watching: when the resourceVersion last advanced or was confirmed
  std::optional<std::string> probeFoundReset_;  // Watching: set by the probe before it cancels the watch
  std::optional<std::string> stale_;
  bool streamingUnavailable_ = false;  // reflector thread only
  ClockSignal stopRequested_;
};

}  // namespace mv::runtime::informer
