#include "runtime/manager/runnable.h"

namespace mv::runtime::manager {
namespace {

class FunctionRunnable final : public Runnable {
 public:
  FunctionRunnable(std::string name, bool leader, std::function<void()> start,
                   std::function<bool(util::Clock::TimePoint)> stop)
      : name_(std::move(name)), leader_(leader), start_(std::move(start)), stop_(std::move(stop)) {}
  std::string name() const override { return name_; }
  bool needsLeaderElection() const override { return leader_; }
  void start() override {
    if (start_) start_();
  }
  bool stop(util::Clock::TimePoint deadline) override { return stop_ ? stop_(deadline) : true; }

 private:
  std::string name_;
  bool leader_;
  std::function<void()> start_;
  std::function<bool(util::Clock::TimePoint)> stop_;
};

}  // namespace

RunnablePtr makeRunnable(std::string name, bool needsLeaderElection, std::function<void()> start,
                         std::function<bool(util::Clock::TimePoint deadline)> stop) {
  return std::make_shared<FunctionRunnable>(std::move(name), needsLeaderElection, std::move(start), std::move(stop));
}

}  // namespace mv::runtime::manager
