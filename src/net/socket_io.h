#pragma once
// Non-blocking socket primitives bounded by a deadline, and optionally cancelled by a file descriptor becoming
// readable (an eventfd, a pipe, a signalfd): a blocked call then returns Cancelled at once.
// No call raises SIGPIPE (MSG_NOSIGNAL) and no descriptor is inherited by children (CLOEXEC).

#include <chrono>
#include <cstddef>
#include <string_view>

#include "net/address.h"
#include "net/fd.h"

namespace mv::net {

using SteadyClock = std::chrono::steady_clock;

// A point in time on the monotonic clock; every I/O step of one call shares it.
struct Deadline {
  SteadyClock::time_point at;
  static Deadline after(std::chrono::milliseconds d) { return {SteadyClock::now() + d}; }
  bool passed() const { return SteadyClock::now() >= at; }
  // Milliseconds to wait in poll(): rounded up, never negative, capped at `cap` when cap >= 0.
  int pollTimeoutMs(int cap = -1) const;
};

enum class IoStatus { Ok, Timeout, Cancelled, Error };

struct IoResult {
  IoStatus status = IoStatus::Ok;
  int error = 0;  // errno when status == Error
  bool ok() const { return status == IoStatus::Ok; }
};

// Waits until `fd` has any of `events` (POLLIN/POLLOUT), the deadline passes, or cancelFd (if >= 0) is readable.
IoResult waitFor(int fd, short events, Deadline deadline, int cancelFd = -1);

// Opens a non-blocking TCP connection. On failure `result` says why (Error with ECONNREFUSED, ENETUNREACH, ...) and
// the returned Fd is empty.
Fd connectTo(const SocketAddress& address, Deadline deadline, int cancelFd, IoResult& result);

// Sends every byte of `data`.
IoResult sendAll(int fd, std::string_view data, Deadline deadline, int cancelFd = -1);

// Sets O_NONBLOCK; false on failure.
bool setNonBlocking(int fd);

}  // namespace mv::net
