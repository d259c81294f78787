#include "runtime/controller/controller.h"

#include <stdexcept>

#include "runtime/controller/reconcile_id.h"
#include "util/log.h"

namespace mv::runtime::controller {

using reconcile::Request;
using reconcile::Result;

Controller::Controller(ControllerOptions options, reconcile::Reconciler& reconciler, util::Clock& clock)
    : options_(std::move(options)), reconciler_(reconciler), clock_(clock) {
  if (options_.maxConcurrentReconciles < 1) options_.maxConcurrentReconciles = 1;
  workqueue::QueueMetricsPtr queueMetrics;
  if (options_.metrics) {
    series_.emplace(options_.metrics->controllers().forController(options_.name));
    series_->maxConcurrentReconciles.Set(options_.maxConcurrentReconciles);
    queueMetrics = options_.metrics->workqueues().forQueue(options_.name);
  }
  queue_ = std::make_unique<workqueue::WorkQueue>(clock_, std::move(options_.rateLimiter), std::move(queueMetrics));
  if (options_.metrics) {
    unfinishedWorkHook_ = options_.metrics->addCollectHook([q = queue_.get()] { q->updateUnfinishedWork(); });
  }
}

Controller::~Controller() {
  queue_->shutDown();
  joinWorkers();
}

void Controller::enqueue(const Request& request) {
  const std::string key = request.key();
  if (!request.reason.empty()) {
    std::lock_guard<std::mutex> g(reasonsMu_);
    reasons_.emplace(key, request.reason);
  }
  queue_->add(key);
}

void Controller::start() {
  std::lock_guard<std::mutex> g(lifecycleMu_);
  if (started_ || stopped_) throw std::logic_error("controller " + options_.name + ": start() called twice");
  started_ = true;
  log::info("starting workers", {{"controller", options_.name}, {"workers", options_.maxConcurrentReconciles}});
  for (int i = 0; i < options_.maxConcurrentReconciles; ++i) workers_.emplace_back([this] { work(); });
}

bool Controller::stop(util::Clock::TimePoint deadline) {
  {
    std::lock_guard<std::mutex> g(lifecycleMu_);
    stopped_ = true;
  }
  log::info("stopping workers: no new work, waiting for in-flight reconciles", {{"controller", options_.name}});
  const bool drained = queue_->shutDownWithDrain(deadline);
  if (!drained) {
    log::error("in-flight reconciles did not finish before the deadline",
               {{"controller", options_.name}, {"inFlight", static_cast<unsigned long>(queue_->inProcess())}});
    return false;
  }
  joinWorkers();
  log::info("all workers finished", {{"controller", options_.name}});
  return true;
}

void Controller::joinWorkers() {
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> g(lifecycleMu_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
}

void Controller::work() {
  while (auto key = queue_->get()) {
    process(*key);
    queue_->done(*key);
  }
}

std::string Controller::takeReason(const std::string& key) {
  std::lock_guard<std::mutex> g(reasonsMu_);
  const auto it = reasons_.find(key);
  if (it == reasons_.end()) return {};
  std::string reason = std::move(it->second);
  reasons_.erase(it);
  return reason;
}

void Controller::process(const std::string& key) {
  const std::string reason = takeReason(key);
  Request request;
  try {
    request = Request::fromKey(key, reason);
  } catch (const std::exception& e) {
    // A malformed key can never succeed: drop it, as controller-runtime drops items of the wrong type.
    log::error("dropping malformed work-queue key", {{"controller", options_.name}, {"key", key}, {"error", e.what()}});
    queue_->forget(key);
    return;
  }

  log::ScopedLogContext context({{"controller", options_.name}, {"key", key}, {"reconcileID", newReconcileId()}});
  ++active_;
  if (series_) series_->activeWorkers.Increment();
  log::debug("reconciling", {{"reason", reason.empty() ? std::string("unknown") : reason}});
  const auto started = clock_.now();
  const Result result = invoke(request);
  const double seconds = std::chrono::duration<double>(clock_.now() - started).count();
  if (series_) {
    series_->reconcileTime.Observe(seconds);
    series_->activeWorkers.Decrement();
  }
  --active_;
  apply(key, result);
}

Result Controller::invoke(const Request& request) {
  try {
    return reconciler_.reconcile(request);
  } catch (const std::exception& e) {
    return Result::error(std::string("reconciler threw: ") + e.what());
  } catch (...) {
    return Result::error("reconciler threw a non-standard exception");
  }
}

void Controller::apply(const std::string& key, const Result& result) {
  switch (result.kind()) {
    case Result::Kind::Done:
      queue_->forget(key);
      if (series_) series_->success.Increment();
      log::debug("reconciled");
      return;
    case Result::Kind::RequeueAfter:
      queue_->forget(key);
      {
        std::lock_guard<std::mutex> g(reasonsMu_);
        reasons_.emplace(key, "requeue-after");
      }
      queue_->addAfter(key, result.after());
      if (series_) series_->requeueAfter.Increment();
      log::debug("reconciled, requeue after",
                 {{"after", std::chrono::duration<double>(result.after()).count()}});
      return;
    case Result::Kind::Requeue:
      {
        std::lock_guard<std::mutex> g(reasonsMu_);
        reasons_.emplace(key, "requeue");
      }
      queue_->addRateLimited(key);
      if (series_) series_->requeue.Increment();
      log::debug("reconciled, requeue with back-off", {{"requeues", queue_->numRequeues(key)}});
      return;
    case Result::Kind::Error:
      {
        std::lock_guard<std::mutex> g(reasonsMu_);
        reasons_.emplace(key, "retry after error");
      }
      if (result.retryCap()) queue_->addRateLimited(key, *result.retryCap());
      else queue_->addRateLimited(key);
      if (series_) {
        series_->error.Increment();
        series_->errors.Increment();
      }
      log::error("reconcile failed, will retry with back-off",
                 {{"error", result.message()}, {"requeues", queue_->numRequeues(key)}});
      return;
    case Result::Kind::Terminal:
      queue_->forget(key);
      if (series_) {
        series_->error.Increment();
        series_->errors.Increment();
        series_->terminalErrors.Increment();
      }
      log::error("reconcile failed terminally, not retrying", {{"error", result.message()}});
      return;
  }
}

}  // namespace mv::runtime::controller
