// The real EndpointCaller (endpoint_caller.h) on mv_net's one-shot HTTP client.
//
// The detail of an answer is short and safe to publish in annotations and Events:
// - "<status>" alone when the reply adds nothing to it;
// - "<status> <words>" where the words are the JSON body's "error" (else "status") field, else a reason phrase that
//   differs from the standard one ("409 busy");
// - the client's own words for a failure ("connection refused", "timeout after 5s", "reply is not HTTP").
// It holds printable ASCII only, at most kMaxDetail characters, and the bearer token never: should the server echo
// it, it is replaced by "***" before anything is cut.
#include <nlohmann/json.hpp>

#include "net/http_client.h"
#include "shutdown/endpoint_caller.h"

namespace mv::shutdown {

namespace {

constexpr std::size_t kMaxDetail = 60;

// Printable ASCII with runs of whitespace (and anything else) collapsed to one space, trimmed.
std::string sanitize(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    bool printable = c > 0x20 && c < 0x7f;
    if (printable) out.push_back(static_cast<char>(c));
    else if (!out.empty() && out.back() != ' ') out.push_back(' ');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

void redact(std::string& text, const std::optional<std::string>& token) {
  if (!token || token->empty()) return;
  // The token as it would look after sanitize(), so an echoed token is found in its sanitized form too.
  for (const std::string& needle : {*token, sanitize(*token)}) {
    if (needle.empty()) continue;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 3))
      text.replace(at, needle.size(), "***");
  }
}

// The words a JSON body gives for its status: its "error" field, else its "status" field, when a string.
std::string jsonWords(const std::string& body) {
  if (body.empty() || body.size() > 64 * 1024) return "";
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return "";
  for (const char* key : {"error", "status"}) {
    auto it = doc.find(key);
    if (it != doc.end() && it->is_string()) return it->get<std::string>();
  }
  return "";
}

std::string statusDetail(const net::ClientReply& reply, const std::optional<std::string>& token) {
  std::string words = sanitize(jsonWords(reply.body));
  if (words.empty() && !net::equalsIgnoreCase(reply.reason, net::standardReason(reply.status)))
    words = sanitize(reply.reason);
  redact(words, token);
  std::string detail = std::to_string(reply.status);
  if (!words.empty()) detail.append(" ").append(words);
  if (detail.size() > kMaxDetail) {
    detail.resize(kMaxDetail);
    while (!detail.empty() && detail.back() == ' ') detail.pop_back();
  }
  return detail;
}

class HttpEndpointCaller final : public EndpointCaller {
 public:
  explicit HttpEndpointCaller(std::size_t maxReplyBytes) : maxReplyBytes_(maxReplyBytes) {}

  EndpointAnswer call(const EndpointRequest& request) override {
    if (request.bearerToken && !net::isFieldValue(*request.bearerToken))
      return unreachable("token holds control characters");
    net::ClientRequest r;
    r.ip = request.ip;
    r.port = request.port;
    r.method = request.method;
    r.target = request.path;
    r.timeout = request.timeout;
    r.maxReplyBytes = maxReplyBytes_;
    r.headers.push_back({"Accept", "application/json, text/plain"});
    r.headers.push_back({"User-Agent", "medivote-operator"});
    if (request.bearerToken) r.headers.push_back({"Authorization", "Bearer " + *request.bearerToken});

    net::ClientResult result = net::httpCall(r);
    // A complete status line is the service's answer, even if the body after it was cut short: the status decides.
    bool answered = result.ok() || (result.headComplete && result.error != net::ClientResult::Error::TooLarge);
    if (!answered) return unreachable(result.describe());
    std::optional<std::chrono::seconds> retryAfter;
    if (auto s = net::retryAfterSeconds(result.reply.headers)) retryAfter = std::chrono::seconds(*s);
    return classifyHttpStatus(result.reply.status, retryAfter, statusDetail(result.reply, request.bearerToken));
  }

 private:
  std::size_t maxReplyBytes_;
};

}  // namespace

std::unique_ptr<EndpointCaller> makeHttpEndpointCaller(std::size_t maxReplyBytes) {
  return std::make_unique<HttpEndpointCaller>(maxReplyBytes);
}

}  // namespace mv::shutdown
