#include "kube/errors.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace mv::kube {
namespace {

struct ReasonName {
  StatusReason reason;
  std::string_view name;
};

constexpr ReasonName kReasons[] = {
    {StatusReason::BadRequest, "BadRequest"},
    {StatusReason::Unauthorized, "Unauthorized"},
    {StatusReason::Forbidden, "Forbidden"},
    {StatusReason::NotFound, "NotFound"},
    {StatusReason::MethodNotAllowed, "MethodNotAllowed"},
    {StatusReason::NotAcceptable, "NotAcceptable"},
    {StatusReason::AlreadyExists, "AlreadyExists"},
    {StatusReason::Conflict, "Conflict"},
    {StatusReason::Gone, "Gone"},
    {StatusReason::Expired, "Expired"},
    {StatusReason::RequestEntityTooLarge, "RequestEntityTooLarge"},
    {StatusReason::UnsupportedMediaType, "UnsupportedMediaType"},
    {StatusReason::Invalid, "Invalid"},
    {StatusReason::TooManyRequests, "TooManyRequests"},
    {StatusReason::InternalError, "InternalError"},
    {StatusReason::ServiceUnavailable, "ServiceUnavailable"},
    {StatusReason::ServerTimeout, "ServerTimeout"},
    {StatusReason::Timeout, "Timeout"},
};

StatusReason parseReason(std::string_view s) {
  for (const auto& r : kReasons)
    if (r.name == s) return r.reason;
  return StatusReason::Unknown;
}

std::optional<std::chrono::seconds> parseRetryAfter(const std::string& header) {
  if (header.empty() || !std::all_of(header.begin(), header.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  try {
    return std::chrono::seconds(std::stol(header));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string trimmed(std::string s, std::size_t max = 512) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  s = s.substr(start);
  if (s.size() > max) s = s.substr(0, max) + "…";
  return s;
}

}  // namespace

std::string_view reasonName(StatusReason r) {
  for (const auto& n : kReasons)
    if (n.reason == r) return n.name;
  return "Unknown";
}

StatusReason reasonForHttpCode(int code) {
  switch (code) {
    case 400: return StatusReason::BadRequest;
    case 401: return StatusReason::Unauthorized;
    case 403: return StatusReason::Forbidden;
    case 404: return StatusReason::NotFound;
    case 405: return StatusReason::MethodNotAllowed;
    case 406: return StatusReason::NotAcceptable;
    case 409: return StatusReason::Conflict;
    case 410: return StatusReason::Gone;
    case 413: return StatusReason::RequestEntityTooLarge;
    case 415: return StatusReason::UnsupportedMediaType;
    case 422: return StatusReason::Invalid;
    case 429: return StatusReason::TooManyRequests;
    case 500: return StatusReason::InternalError;
    case 503: return StatusReason::ServiceUnavailable;
    case 504: return StatusReason::Timeout;
    default: return StatusReason::Unknown;
  }
}

ApiError::ApiError(int code, StatusReason reason, std::string message, json status,
                   std::optional<std::chrono::seconds> retryAfter)
    : Error(fmt::format("the API server answered {} {}: {}", code, reasonName(reason), message)),
      code_(code),
      reason_(reason),
      message_(std::move(message)),
      status_(std::move(status)),
      retryAfter_(retryAfter) {}

bool ApiError::isRetryable() const {
  switch (reason_) {
    case StatusReason::TooManyRequests:
    case StatusReason::InternalError:
    case StatusReason::ServiceUnavailable:
    case StatusReason::ServerTimeout:
    case StatusReason::Timeout:
      return true;
    default:
      return code_ == 429 || code_ == 500 || code_ == 502 || code_ == 503 || code_ == 504;
  }
}

ApiError apiErrorFromStatus(const json& status) {
  const int code = status.is_object() && status.contains("code") && status["code"].is_number_integer()
                       ? status["code"].get<int>()
                       : 500;
  StatusReason reason = StatusReason::Unknown;
  if (status.is_object() && status.contains("reason") && status["reason"].is_string())
    reason = parseReason(status["reason"].get<std::string>());
  if (reason == StatusReason::Unknown) reason = reasonForHttpCode(code);
  std::string message = status.is_object() && status.contains("message") && status["message"].is_string()
                            ? status["message"].get<std::string>()
                            : std::string(reasonName(reason));
  std::optional<std::chrono::seconds> retryAfter;
  if (status.is_object() && status.contains("details") && status["details"].is_object()) {
    const auto& d = status["details"];
    if (d.contains("retryAfterSeconds") && d["retryAfterSeconds"].is_number_integer() &&
        d["retryAfterSeconds"].get<long>() > 0)
      retryAfter = std::chrono::seconds(d["retryAfterSeconds"].get<long>());
  }
  return ApiError(code, reason, std::move(message), status, retryAfter);
}

ApiError apiErrorFromResponse(int httpStatus, const std::string& body, const std::string& retryAfterHeader) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.value("kind", "") == "Status") {
    if (!parsed.contains("code") || !parsed["code"].is_number_integer()) parsed["code"] = httpStatus;
    ApiError fromBody = apiErrorFromStatus(parsed);
    auto retryAfter = parseRetryAfter(retryAfterHeader);
    if (!retryAfter) retryAfter = fromBody.retryAfter();
    return ApiError(httpStatus, fromBody.reason(), fromBody.message(), parsed, retryAfter);
  }
  const StatusReason reason = reasonForHttpCode(httpStatus);
  std::string message = trimmed(body);
  if (message.empty()) message = fmt::format("HTTP {}", httpStatus);
  json status = {{"kind", "Status"},     {"apiVersion", "v1"}, {"status", "Failure"},
                 {"message", message},   {"code", httpStatus}, {"reason", std::string(reasonName(reason))}};
  return ApiError(httpStatus, reason, std::move(message), std::move(status), parseRetryAfter(retryAfterHeader));
}

TransportError::TransportError(Kind kind, std::string message) : Error(std::move(message)), kind_(kind) {}

std::string_view kindName(TransportError::Kind k) {
  switch (k) {
    case TransportError::Kind::ConnectionFailed: return "ConnectionFailed";
    case TransportError::Kind::Timeout: return "Timeout";
    case TransportError::Kind::TlsUnknownAuthority: return "TlsUnknownAuthority";
    case TransportError::Kind::TlsNameMismatch: return "TlsNameMismatch";
    case TransportError::Kind::TlsClientRejected: return "TlsClientRejected";
    case TransportError::Kind::Tls: return "Tls";
    case TransportError::Kind::Protocol: return "Protocol";
    case TransportError::Kind::Cancelled: return "Cancelled";
  }
  return "Unknown";
}

}  // namespace mv::kube
