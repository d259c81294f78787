#include "runtime/manager/signals.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using mv::runtime::manager::blockTerminationSignals;
using mv::runtime::manager::TerminationSignals;

namespace {

// Runs `body` in a forked child (single-threaded, so that blocking the signals covers every thread) and returns its
// exit status, or -1 if it did not exit within 10 s (the child is then killed).
int inChild(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) std::_Exit(body());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(2ms);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

bool pollFor(const std::atomic<int>& v, int want) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (v.load() != want) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("TerminationSignals: the first SIGTERM calls back on the watcher thread, a second signal ends the process") {
  const int status = inChild([] {
    blockTerminationSignals();
    std::atomic<int> first{0};
    TerminationSignals signals([&](int signo) { first = signo; });
    ::kill(::getpid(), SIGTERM);
    if (!pollFor(first, SIGTERM)) return 10;  // the first signal was not seen
    ::kill(::getpid(), SIGINT);               // the default second-signal action: _Exit(1)
    std::this_thread::sleep_for(5s);
    return 11;  // the second signal did not end the process
  });
  CHECK(status == 1);
}

TEST_CASE("TerminationSignals: SIGINT also counts, and destruction stops the watcher") {
  const int status = inChild([] {
    blockTerminationSignals();
    std::atomic<int> first{0}, second{0};
    {
      TerminationSignals signals([&](int signo) { first = signo; }, [&](int signo) { second = signo; });
      ::kill(::getpid(), SIGINT);
      if (!pollFor(first, SIGINT)) return 10;
      ::kill(::getpid(), SIGTERM);
      if (!pollFor(second, SIGTERM)) return 11;
    }
    return 0;  // joined cleanly
  });
  CHECK(status == 0);
}
