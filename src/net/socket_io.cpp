#include "net/socket_io.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace mv::net {

int Deadline::pollTimeoutMs(int cap) const {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(at - SteadyClock::now()).count();
  if (left < 0) left = 0;
  if (left > 24 * 3600 * 1000) left = 24 * 3600 * 1000;
  int ms = static_cast<int>(left);
  return cap >= 0 && ms > cap ? cap : ms;
}

IoResult waitFor(int fd, short events, Deadline deadline, int cancelFd) {
  for (;;) {
    pollfd fds[2] = {{fd, events, 0}, {cancelFd, POLLIN, 0}};
    int n = ::poll(fds, cancelFd >= 0 ? 2 : 1, deadline.pollTimeoutMs());
    if (n < 0) {
      if (errno == EINTR) continue;
      return {IoStatus::Error, errno};
    }
    if (cancelFd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) return {IoStatus::Cancelled, 0};
    if (fds[0].revents != 0) return {};  // ready, or an error the next syscall reports
    if (deadline.passed()) return {IoStatus::Timeout, 0};
  }
}

bool setNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

Fd connectTo(const SocketAddress& address, Deadline deadline, int cancelFd, IoResult& result) {
  if (address.empty()) {
    result = {IoStatus::Error, EAFNOSUPPORT};
    return Fd();
  }
  Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    result = {IoStatus::Error, errno};
    return Fd();
  }
  int rc;
  do {
    rc = ::connect(fd.get(), address.get(), address.length());
  } while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno != EINPROGRESS) {
    result = {IoStatus::Error, errno};
    return Fd();
  }
  if (rc < 0) {
    result = waitFor(fd.get(), POLLOUT, deadline, cancelFd);
    if (!result.ok()) return Fd();
    int error = 0;
    socklen_t len = sizeof(error);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) < 0) error = errno;
    if (error != 0) {
      result = {IoStatus::Error, error};
      return Fd();
    }
  }
  result = {};
  return fd;
}

IoResult sendAll(int fd, std::string_view data, Deadline deadline, int cancelFd) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      IoResult w = waitFor(fd, POLLOUT, deadline, cancelFd);
      if (!w.ok()) return w;
      continue;
    }
    return {IoStatus::Error, n < 0 ? errno : EPIPE};
  }
  return {};
}

}  // namespace mv::net
