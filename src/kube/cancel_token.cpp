// CancelToken (declared in kube/transport.h).
//
// Contract beyond the header:
// - cancel() is idempotent; callbacks run once, on the thread that calls cancel() first.
// - Callbacks run while the token's lock is held, so once unsubscribe() returns, its callback is neither running nor
//   will it run. The price: a callback must not call back into the same token (subscribe/unsubscribe/cancel).
// - subscribe() on an already cancelled token runs `fn` at once on the caller's thread (without the lock) and returns
//   an id that unsubscribe() accepts and ignores.

#include "kube/transport.h"

namespace mv::kube {

void CancelToken::cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_.exchange(true)) return;
  auto callbacks = std::move(callbacks_);
  callbacks_.clear();
  for (auto& [id, fn] : callbacks) {
    try {
      fn();
    } catch (...) {
      // A callback only signals; one that throws must not stop the others from running.
    }
  }
}

int CancelToken::subscribe(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cancelled_.load()) {
      int id = nextId_++;
      callbacks_.emplace(id, std::move(fn));
      return id;
    }
  }
  fn();
  return -1;
}

void CancelToken::unsubscribe(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  callbacks_.erase(id);
}

}  // namespace mv::kube
