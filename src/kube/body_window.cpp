#include "kube/body_window.h"

namespace mv::kube {

BodyWindow::BodyWindow(std::size_t capacity)
    : streambuf_state_manager<uint8_t>(std::ios_base::out), capacity_(capacity) {}

pplx::task<BodyWindow::int_type> BodyWindow::_putc(uint8_t ch) {
  return _putn(&ch, 1).then([ch](size_t) { return static_cast<int_type>(ch); });
}

pplx::task<size_t> BodyWindow::_putn(const uint8_t* ptr, size_t count) {
  std::unique_lock<std::mutex> lock(mu_);
  if (abandoned_ || ended_) return pplx::task_from_result(count);  // nobody reads on: dropped
  waiting_.append(reinterpret_cast<const char*>(ptr), count);  // copied: the caller's bytes may go once this returns
  readable_.notify_all();
  if (waiting_.size() <= capacity_) return pplx::task_from_result(count);
  pplx::task_completion_event<size_t> written;
  blocked_.emplace(written, count);
  return pplx::create_task(written);
}

bool BodyWindow::take(std::string& piece) {
  std::optional<std::pair<pplx::task_completion_event<size_t>, size_t>> unblocked;
  {
    std::unique_lock<std::mutex> lock(mu_);
    readable_.wait(lock, [&] { return !waiting_.empty() || ended_ || abandoned_; });
    if (waiting_.empty()) return false;
    piece.clear();
    piece.swap(waiting_);
    unblocked.swap(blocked_);
  }
  if (unblocked) unblocked->first.set(unblocked->second);  // outside the lock: cpprest may write again at once
  return true;
}

void BodyWindow::finish(std::exception_ptr error) {
  std::lock_guard<std::mutex> lock(mu_);
  ended_ = true;
  error_ = error;
  readable_.notify_all();
}

void BodyWindow::abandon() {
  std::optional<std::pair<pplx::task_completion_event<size_t>, size_t>> unblocked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    abandoned_ = true;
    waiting_.clear();
    waiting_.shrink_to_fit();
    unblocked.swap(blocked_);
    readable_.notify_all();
  }
  if (unblocked) unblocked->first.set(unblocked->second);
}

std::exception_ptr BodyWindow::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

}  // namespace mv::kube
