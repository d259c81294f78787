#pragma once
// Typed errors of the Kubernetes API client.
//
// Contract: every client call either returns its result or throws one of:
// - ApiError: the server answered with a non-2xx status (or a watch ERROR event). It keeps the server's Status body,
//   its message, its reason and code, and the Retry-After the server asked for.
// - TransportError: no usable answer came back (connection refused or reset, timeout, TLS failure, a reply that is
//   not HTTP or not JSON, a stream cut short, or the call was cancelled).
// - ConfigError: the connection configuration (kubeconfig, in-cluster files) cannot be used. Thrown while loading.
// All three derive from kube::Error, whose what() is a complete, human-readable sentence that never holds a token.

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace mv::kube {

using json = nlohmann::json;

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// metav1.StatusReason values, plus Unknown for a reason the client does not know.
enum class StatusReason {
  Unknown,
  BadRequest,
  Unauthorized,
  Forbidden,
  NotFound,
  MethodNotAllowed,
  NotAcceptable,
  AlreadyExists,
  Conflict,
  Gone,
  Expired,
  RequestEntityTooLarge,
  UnsupportedMediaType,
  Invalid,
  TooManyRequests,
  InternalError,
  ServiceUnavailable,
  ServerTimeout,
  Timeout,
};

std::string_view reasonName(StatusReason r);

class ApiError : public Error {
 public:
  // `status` is the server's metav1.Status body when it sent one; otherwise a Status built from the HTTP status.
  ApiError(int code, StatusReason reason, std::string message, json status,
           std::optional<std::chrono::seconds> retryAfter = std::nullopt);

  int code() const { return code_; }
  StatusReason reason() const { return reason_; }
  const std::string& message() const { return message_; }
  const json& status() const { return status_; }
  // From the Retry-After header, else from status.details.retryAfterSeconds.
  std::optional<std::chrono::seconds> retryAfter() const { return retryAfter_; }

  bool isNotFound() const { return code_ == 404 || reason_ == StatusReason::NotFound; }
  bool isAlreadyExists() const { return reason_ == StatusReason::AlreadyExists; }
  // An optimistic-concurrency or precondition failure: re-read and try again.
  bool isConflict() const { return reason_ == StatusReason::Conflict || (code_ == 409 && !isAlreadyExists()); }
  // 410 Gone / Expired: a resourceVersion or continue token is too old; the caller must relist.
  bool isGone() const { return code_ == 410 || reason_ == StatusReason::Gone || reason_ == StatusReason::Expired; }
  bool isInvalid() const { return code_ == 422 || reason_ == StatusReason::Invalid; }
  bool isForbidden() const { return code_ == 403; }
  bool isUnauthorized() const { return code_ == 401; }
  bool isTooManyRequests() const { return code_ == 429; }
  // Worth retrying as is, after a delay: 429, 500, 503, 504, ServerTimeout, Timeout.
  bool isRetryable() const;

 private:
  int code_;
  StatusReason reason_;
  std::string message_;
  json status_;
  std::optional<std::chrono::seconds> retryAfter_;
};

class TransportError : public Error {
 public:
  enum class Kind {
    ConnectionFailed,    // refused, reset, unreachable, DNS
    Timeout,             // the request's own timeout ran out
    TlsUnknownAuthority, // the server's certificate is not signed by the configured CA
    TlsNameMismatch,     // the certificate does not name the host we dialled (DNS or IP SAN)
    TlsClientRejected,   // the server refused our client certificate (or demanded one we did not have)
    Tls,                 // any other TLS failure
    Protocol,            // not HTTP, malformed JSON, a body cut short
    Cancelled,           // cancelled by the caller
  };
  TransportError(Kind kind, std::string message);
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

std::string_view kindName(TransportError::Kind k);

class ConfigError : public Error {
 public:
  using Error::Error;
};

// Builds the ApiError for a non-2xx reply. Parses a metav1.Status body when there is one (keeping its message, reason
// and details); otherwise derives the reason from the HTTP code and uses the body text (trimmed) as the message.
// `retryAfterHeader` is the raw Retry-After value, if any (delta-seconds form).
ApiError apiErrorFromResponse(int httpStatus, const std::string& body, const std::string& retryAfterHeader = "");

// Builds the ApiError for a watch ERROR event whose object is a Status.
ApiError apiErrorFromStatus(const json& status);

StatusReason reasonForHttpCode(int code);

}  // namespace mv::kube
