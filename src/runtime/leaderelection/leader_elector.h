#pragma once
// Leader election: among the replicas of the operator, at most one acts at a time, as far as leases can promise.
//
// NOT A FENCE. Leases rely on timing: a leader that stalls (GC pause, a frozen node, a partition) past its renew
// deadline may still be finishing an API call when another replica has taken over, and nothing on the server side
// rejects the old leader's writes. So every effect the operator has on the world (creating, patching, deleting
// objects, calling a pod's shutdown endpoint) must be safe to repeat and safe to run twice concurrently:
// conditional updates (resourceVersion), idempotent requests, and state re-read from the API before acting. Where a
// reconcile step has such an effect, its code says so.

#include <functional>

namespace mv::runtime::leaderelection {

class LeaderElector {
 public:
  virtual ~LeaderElector() = default;

  // Campaigns until this replica leads, then calls onStartedLeading, then keeps the leadership until it cannot renew
  // it or stop() is called; then calls onStoppedLeading and returns. Blocks the calling thread throughout.
  // - onStoppedLeading is called only if onStartedLeading was, at once when a renewal fails past the renew
  //   deadline (the caller must stop acting immediately: another replica may lead soon), or after the lease was
  //   released when stop() ended the leadership.
  // - Both callbacks run on the calling thread and must return promptly (start and stop work elsewhere).
  // - run() is called at most once per elector; a replica that lost the leadership is expected to exit (as
  //   controller-runtime's manager does) and start afresh.
  virtual void run(std::function<void()> onStartedLeading, std::function<void()> onStoppedLeading) = 0;

  // Ends run(): stops campaigning, or, when leading, releases the lease (if so configured) and stops leading.
  // Returns at once; thread-safe; idempotent.
  virtual void stop() = 0;

  // True between onStartedLeading and onStoppedLeading.
  virtual bool isLeader() const = 0;

  // Whether this replica may write now: it leads, and by its own clock the lease it last renewed cannot have run
  // out for the others yet. The write guard (kube/write_guard.h) asks it before every write, so that a process
  // resumed after a pause (SIGSTOP, a frozen node) longer than its lease writes nothing before it has renewed, even
  // before its elector noticed the loss. Thread-safe.
  virtual bool leaseHeld() const { return isLeader(); }
};

}  // namespace mv::runtime::leaderelection
