#pragma once
// Something the manager starts and stops: an informer, a controller, any background loop.

#include <functional>
#include <memory>
#include <string>

#include "util/clock.h"

namespace mv::runtime::manager {

class Runnable {
 public:
  virtual ~Runnable() = default;
  virtual std::string name() const = 0;
  // True: started only while this replica leads, stopped as soon as it does not (controllers: they write).
  // False: started on every replica before leader election (informers: their caches make a new leader ready at once).
  virtual bool needsLeaderElection() const = 0;
  // Starts the work on threads of its own and returns promptly; throws if it cannot start. Called at most once.
  virtual void start() = 0;
  // Stops taking new work, then waits until in-flight work has finished or `deadline` passes on the manager's clock;
  // returns whether everything finished. Called once, whether or not start() was.
  virtual bool stop(util::Clock::TimePoint deadline) = 0;
};
using RunnablePtr = std::shared_ptr<Runnable>;

// A Runnable from two functions; `stop` may be empty (nothing to stop), and a stop without a deadline returns true.
RunnablePtr makeRunnable(std::string name, bool needsLeaderElection, std::function<void()> start,
                         std::function<bool(util::Clock::TimePoint deadline)> stop);

}  // namespace mv::runtime::manager
