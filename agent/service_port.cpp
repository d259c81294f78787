#include "service_port.h"

#include <cerrno>

#include "net/socket_io.h"

namespace mv::agent {

bool servicePortClosed(const std::vector<std::string>& ips, int port, int cancelFd) {
  for (const std::string& ip : ips) {
    auto address = net::parseIpLiteral(ip, static_cast<std::uint16_t>(port));
    if (!address) return false;
    net::IoResult io;
    net::Fd fd = net::connectTo(*address, net::Deadline::after(kConnectTimeout), cancelFd, io);
    if (io.status != net::IoStatus::Error) return false;  // connected, timed out or cancelled
    if (io.error != ECONNREFUSED && io.error != EADDRNOTAVAIL && io.error != ENETUNREACH && io.error != EAFNOSUPPORT)
      return false;
  }
  return true;
}

}  // namespace mv::agent
