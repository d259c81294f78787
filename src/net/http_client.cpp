#include "net/http_client.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "net/socket_io.h"

namespace mv::net {

namespace {

using Error = ClientResult::Error;

bool validTarget(std::string_view target) {
  if (target.empty() || target.front() != '/') return false;
  for (unsigned char c : target)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

bool methodHasBody(std::string_view method) { return method == "POST" || method == "PUT" || method == "PATCH"; }

std::string buildRequest(const ClientRequest& r) {
  std::string out;
  out.reserve(256 + r.body.size());
  out.append(r.method).append(" ").append(r.target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(joinHostPort(r.ip, r.port)).append("\r\n");
  out.append("Connection: close\r\n");
  for (const auto& h : r.headers) out.append(h.name).append(": ").append(h.value).append("\r\n");
  if (!r.body.empty() || methodHasBody(r.method))
    out.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
  out.append("\r\n").append(r.body);
  return out;
}

bool isReservedHeader(std::string_view name) {
  return equalsIgnoreCase(name, "host") || equalsIgnoreCase(name, "connection") ||
         equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "transfer-encoding");
}

// Reads the reply into `result`. `buffer` holds everything received after the last interim (1xx) reply.
void readReply(int fd, const ClientRequest& request, Deadline deadline, ClientResult& result) {
  std::string buffer;
  std::size_t received = 0;
  std::size_t bodyStart = 0;
  std::optional<long long> length;
  bool chunked = false;
  bool noBody = false;
  char chunk[4096];

  for (;;) {
    // Is what we have complete?
    if (result.headComplete) {
      std::string_view body = std::string_view(buffer).substr(bodyStart);
      if (noBody) return;
      if (chunked) {
        ChunkedStatus s = decodeChunked(body, result.reply.body);
        if (s == ChunkedStatus::Complete) return;
        if (s == ChunkedStatus::Invalid) {
          result.error = Error::NotHttp;
          return;
        }
      } else if (length) {
        if (body.size() >= static_cast<std::size_t>(*length)) {
          result.reply.body.assign(body.substr(0, static_cast<std::size_t>(*length)));
          return;
        }
      }
    }

    IoResult w = waitFor(fd, POLLIN, deadline, request.cancelFd);
    if (!w.ok()) {
      result.error = w.status == IoStatus::Timeout ? Error::Timeout
                     : w.status == IoStatus::Cancelled ? Error::Cancelled
                                                       : Error::IoError;
      result.sysError = w.error;
      break;
    }
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) {
      result.error = Error::IoError;
      result.sysError = errno;
      break;
    }
    if (n == 0) {
      if (result.headComplete && !chunked && !length) {  // the body ends with the connection
        result.reply.body.assign(buffer.substr(bodyStart));
        return;
      }
      result.error = Error::Closed;
      break;
    }
    received += static_cast<std::size_t>(n);
    if (received > request.maxReplyBytes) {
      result.error = Error::TooLarge;
      break;
    }
    buffer.append(chunk, static_cast<std::size_t>(n));

    while (!result.headComplete) {
      // Refuse garbage as soon as its first bytes show it is not a status line.
      std::string_view prefix = std::string_view(buffer).substr(0, 5);
      if (std::string_view("HTTP/").substr(0, prefix.size()) != prefix) {
        result.error = Error::NotHttp;
        return;
      }
      std::size_t end = findHeadEnd(buffer);
      if (end == std::string::npos) break;
      ResponseHead head;
      if (!parseResponseHead(std::string_view(buffer).substr(0, end), head)) {
        result.error = Error::NotHttp;
        return;
      }
      if (head.status < 200) {  // an interim reply: skip it and parse what follows
        buffer.erase(0, end);
        continue;
      }
      length = contentLength(head.headers);
      chunked = isChunked(head.headers);
      if ((length && *length < 0) || (chunked && length)) {
        result.error = Error::NotHttp;
        return;
      }
      if (length && static_cast<unsigned long long>(*length) > request.maxReplyBytes) {
        result.error = Error::TooLarge;
        return;
      }
      noBody = request.method == "HEAD" || head.status == 204 || head.status == 304;
      result.reply.status = head.status;
      result.reply.reason = std::move(head.reason);
      result.reply.headers = std::move(head.headers);
      result.headComplete = true;
      bodyStart = end;
    }
  }
  // Ended with an error: keep what body there is, for the caller's detail.
  if (result.headComplete && !chunked) result.reply.body.assign(buffer.substr(bodyStart));
}

}  // namespace

std::string formatDuration(std::chrono::milliseconds d) {
  long long ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  if (ms > 1000 && ms % 100 == 0) return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + "s";
  return std::to_string(ms) + "ms";
}

std::string ClientResult::describe() const {
  switch (error) {
    case Error::None: return "";
    case Error::InvalidRequest: return "invalid request";
    case Error::InvalidAddress: return "not an IP literal";
    case Error::ConnectFailed:
      switch (sysError) {
        case ECONNREFUSED: return "connection refused";
        case ENETUNREACH: return "network unreachable";
        case EHOSTUNREACH: return "host unreachable";
        case EADDRNOTAVAIL: return "address not available";
        default: return std::string("connect failed: ") + std::strerror(sysError);
      }
    case Error::Timeout: return "timeout after " + formatDuration(timeout);
    case Error::Cancelled: return "cancelled";
    case Error::Closed: return headComplete ? "reply cut short" : "connection closed without a reply";
    case Error::IoError: return sysError == ECONNRESET ? "connection reset" : std::strerror(sysError);
    case Error::NotHttp: return "reply is not HTTP";
    case Error::TooLarge: return "reply too large";
  }
  return "";
}

ClientResult httpCall(const ClientRequest& request) {
  ClientResult result;
  result.timeout = request.timeout;
  Deadline deadline = Deadline::after(request.timeout);

  bool valid = isToken(request.method) && validTarget(request.target) && request.port > 0 && request.port <= 65535;
  for (const auto& h : request.headers)
    valid = valid && isToken(h.name) && isFieldValue(h.value) && !isReservedHeader(h.name);
  if (!valid) {
    result.error = Error::InvalidRequest;
    return result;
  }
  auto address = parseIpLiteral(request.ip, static_cast<std::uint16_t>(request.port));
  if (!address) {
    result.error = Error::InvalidAddress;
    return result;
  }

  IoResult io;
  Fd fd = connectTo(*address, deadline, request.cancelFd, io);
  if (!io.ok()) {
    result.error = io.status == IoStatus::Timeout     ? Error::Timeout
                   : io.status == IoStatus::Cancelled ? Error::Cancelled
                                                      : Error::ConnectFailed;
    result.sysError = io.error;
    return result;
  }

  io = sendAll(fd.get(), buildRequest(request), deadline, request.cancelFd);
  if (!io.ok() && io.status != IoStatus::Error) {
    result.error = io.status == IoStatus::Timeout ? Error::Timeout : Error::Cancelled;
    return result;
  }
  // A send error (the peer reset or closed early) may still leave a reply to read, e.g. an early 413 or 401.
  readReply(fd.get(), request, deadline, result);
  if (!io.ok() && !result.headComplete && result.error != Error::Timeout && result.error != Error::Cancelled) {
    result.error = Error::IoError;
    result.sysError = io.error;
  }
  return result;
}

}  // namespace mv::net
