#pragma once
// Whether the service still has its port: one TCP connect() per target address, nothing sent.
//
// Contract: closed() is true only when every target address positively refuses a connection (ECONNREFUSED, or an
// address that cannot exist here: EADDRNOTAVAIL, ENETUNREACH, EAFNOSUPPORT, e.g. ::1 in a pod without IPv6). A port
// that accepts the connection counts as open, even when nothing ever answers on it (a hung reload parent keeps the
// port of the worker that died), and so does a connect that neither succeeds nor fails within kConnectTimeout.

#include <chrono>
#include <string>
#include <vector>

namespace mv::agent {

inline constexpr std::chrono::milliseconds kConnectTimeout{50};
// How often a watcher of the service's port probes it (the hook's hold, the forwarder's done state).
inline constexpr std::chrono::milliseconds kProbeInterval{75};

// `cancelFd` (>= 0) aborts a probe in progress; a cancelled probe counts as open.
bool servicePortClosed(const std::vector<std::string>& ips, int port, int cancelFd);

}  // namespace mv::agent
