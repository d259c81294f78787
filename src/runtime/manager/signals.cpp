#include "runtime/manager/signals.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <system_error>

#include "util/log.h"

namespace mv::runtime::manager {

void blockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

TerminationSignals::TerminationSignals(std::function<void(int)> onFirst, std::function<void(int)> onSecond,
                                       std::vector<int> signals)
    : onFirst_(std::move(onFirst)), onSecond_(std::move(onSecond)) {
  if (!onSecond_) {
    onSecond_ = [](int signo) {
      log::error("second termination signal: exiting at once", {{"signal", signo}});
      std::_Exit(1);
    };
  }
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  signalFd_ = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (signalFd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  wakeFd_ = ::eventfd(0, EFD_CLOEXEC);
  if (wakeFd_ < 0) {
    const int err = errno;
    ::close(signalFd_);
    throw std::system_error(err, std::generic_category(), "eventfd");
  }
  thread_ = std::thread([this] { watch(); });
}

TerminationSignals::~TerminationSignals() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wakeFd_, &one, sizeof one);
  thread_.join();
  ::close(signalFd_);
  ::close(wakeFd_);
}

void TerminationSignals::watch() {
  int received = 0;
  while (true) {
    pollfd fds[2] = {{signalFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    signalfd_siginfo info{};
    if (::read(signalFd_, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
    const int signo = static_cast<int>(info.ssi_signo);
    if (++received == 1) {
      log::info("termination signal received: shutting down gracefully", {{"signal", signo}});
      onFirst_(signo);
    } else {
      onSecond_(signo);
    }
  }
}

}  // namespace mv::runtime::manager
