#include "medivote/agent_token.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "api/names.h"
#include "medivote/pod_builder.h"
#include "util/base64.h"
#include "util/log.h"

namespace mv::medivote {
namespace {

std::string key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// What the cache keeps of a Secret: enough to judge it and to read its keys.
json essentials(const json& secret) {
  const json meta = secret.value("metadata", json::object());
  return {{"metadata",
           {{"uid", meta.value("uid", "")},
            {"resourceVersion", meta.value("resourceVersion", "")},
            {"ownerReferences", meta.value("ownerReferences", json::array())}}},
          {"data", secret.value("data", json::object())}};
}

bool ownedBy(const json& secret, const std::string& uid) {
  const json refs = secret.value("/metadata/ownerReferences"_json_pointer, json::array());
  if (!refs.is_array()) return false;
  return std::any_of(refs.begin(), refs.end(), [&](const json& r) {
    return r.is_object() && r.value("uid", "") == uid && r.value("controller", false);
  });
}

}  // namespace

std::string agentTokenSecretName(const std::string& mvsName) { return mvsName + "-agent-token"; }

std::optional<TokenSecretRef> tokenSecretOf(const api::MediVoteService& mvs) {
  const auto& e = mvs.spec.shutdown.endpoint;
  if (!e) return std::nullopt;
  if (e->tokenSecretRef) return TokenSecretRef{e->tokenSecretRef->name, e->tokenSecretRef->key, false};
  // Only a critical resource calls its endpoint (the simple tier gets SIGTERM only): no Secret for the others.
  if (e->reach == api::Reach::Agent && api::resolveTier(mvs).tier == api::Tier::Critical)
    return TokenSecretRef{agentTokenSecretName(mvs.name), std::string(kAgentTokenKey), true};
  return std::nullopt;
}

std::string newAgentToken() {
  unsigned char bytes[kAgentTokenBytes];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  // base64url (RFC 4648 §5), no padding: safe in a file, a header and a URL alike.
  std::string token = util::base64Encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
  std::fill(std::begin(bytes), std::end(bytes), 0);
  while (!token.empty() && token.back() == '=') token.pop_back();
  std::replace(token.begin(), token.end(), '+', '-');
  std::replace(token.begin(), token.end(), '/', '_');
  return token;
}

double TokenSecrets::refreshBudgetFor(double clientQps) { return clientQps > 0 ? clientQps / 10 : 0; }

TokenSecrets::TokenSecrets(kube::Client& client, util::Clock& clock, TokenSource newToken, double refreshQps)
    : client_(client), clock_(clock), newToken_(std::move(newToken)), refreshBudget_(clock, refreshQps, 1) {}

TokenSecrets::Cached TokenSecrets::read(const std::string& ns, const std::string& name) {
  Cached c;
  c.readAt = clock_.now();
  try {
    c.secret = essentials(client_.get(kube::resources::secrets(), ns, name));
    c.found = true;
  } catch (const kube::ApiError& err) {
    if (!err.isNotFound()) throw;
  }
  return c;
}

TokenSecrets::Cached TokenSecrets::create(const api::MediVoteService& mvs, const std::string& name,
                                          std::string& forbidden) {
  const json secret = {
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"type", "Opaque"},
      {"metadata",
       {{"name", name},
        {"namespace", mvs.ns},
        {"labels", {{std::string(api::kLabelManagedBy), std::string(api::kManagedByValue)},
                    {std::string(api::kLabelService), mvs.name}}},
        {"ownerReferences", json::array({ownerReference(mvs)})}}},
      {"data", {{std::string(kAgentTokenKey), util::base64Encode(newToken_())}}}};
  try {
    Cached c;
    c.readAt = clock_.now();
    c.secret = essentials(client_.create(kube::resources::secrets(), mvs.ns, secret));
    c.found = true;
    log::info("agent token Secret created", {{"object", "secrets/" + key(mvs.ns, name)}});
    return c;
  } catch (const kube::ApiError& err) {
    if (err.isAlreadyExists()) return read(mvs.ns, name);  // another replica was first: judge what is there
    if (!err.isForbidden()) throw;
    forbidden = err.what();
    Cached c;
    c.readAt = clock_.now();
    return c;
  }
}

void TokenSecrets::store(const std::string& secretKey, const Cached& c) {
  std::lock_guard<std::mutex> g(mu_);
  secrets_[secretKey] = c;
}

TokenLookup TokenSecrets::lookup(const api::MediVoteService& mvs, bool mayCreate) {
  TokenLookup out;
  const std::string mvsKey = key(mvs.ns, mvs.name);
  const auto ref = tokenSecretOf(mvs);
  if (!ref) {
    forget(mvsKey);
    return out;
  }
  const std::string secretKey = key(mvs.ns, ref->name);
  std::optional<Cached> cached;
  bool fetch = false;
  {
    std::unique_lock<std::mutex> g(mu_);
    const auto previous = users_.find(mvsKey);
    const std::string released = previous != users_.end() && previous->second != secretKey ? previous->second : "";
    users_[mvsKey] = secretKey;
    if (!released.empty() && std::none_of(users_.begin(), users_.end(), [&](const auto& u) {
          return u.second == released;
        }))
      secrets_.erase(released);
    // One read (or create) of a Secret at a time: a lookup that finds one under way waits for its answer, so
    // resources sharing a Secret and reconciled side by side make one GET, not one each.
    fetched_.wait(g, [&] { return !fetching_.count(secretKey); });
    const auto now = clock_.now();
    if (auto it = secrets_.find(secretKey); it != secrets_.end()) {
      Cached& copy = it->second;
      if (now - copy.readAt < kResync) {
        cached = copy;
        out.nextRead = copy.readAt + kResync;
      } else if (!copy.refreshAt || now - *copy.refreshAt > kSlotGrace) {
        // Stale: re-read now if the budget has a slot, else keep the copy until the slot reserved for it. A slot
        // missed by more than kSlotGrace (the operator came back late: it is behind) is given up for a new one, so
        // missed slots are never read in a burst.
        copy.refreshAt = now + refreshBudget_.reserve();
      }
      if (copy.refreshAt && now < *copy.refreshAt) {
        cached = copy;
        out.nextRead = copy.refreshAt;
      }
    }
    fetch = !cached || (!cached->found && ref->operatorOwned && mayCreate);
    if (fetch) fetching_.insert(secretKey);
  }
  std::string forbidden;
  if (fetch) {
    struct Fetched {  // ends the fetch however it ends (an API error propagates)
      TokenSecrets& secrets;
      const std::string& key;
      ~Fetched() {
        {
          std::lock_guard<std::mutex> g(secrets.mu_);
          secrets.fetching_.erase(key);
        }
        secrets.fetched_.notify_all();
      }
    } fetched{*this, secretKey};
    if (!cached) {
      cached = read(mvs.ns, ref->name);
      store(secretKey, *cached);
    }
    if (!cached->found && ref->operatorOwned && mayCreate) {
      cached = create(mvs, ref->name, forbidden);
      store(secretKey, *cached);
    }
    out.nextRead = cached->readAt + kResync;
  }
  const std::string where = fmt::format("Secret {}/{}", mvs.ns, ref->name);
  if (!forbidden.empty()) {
    out.problemReason = "TokenSecretForbidden";
    out.problem = fmt::format("cannot create {} for the agent's token: {} (the operator's role needs 'create' on "
                              "secrets)",
                              where, forbidden);
    out.blocksPods = true;
    return out;
  }
  if (!cached->found) {
    out.problemReason = "SecretNotFound";
    out.problem = ref->operatorOwned
                      ? fmt::format("{} (the agent's token, created by the operator) not found", where)
                      : fmt::format("{} (spec.shutdown.endpoint.tokenSecretRef) not found", where);
    out.blocksPods = ref->operatorOwned;
    return out;
  }
  out.secretVersion = cached->secret["metadata"].value("resourceVersion", "");
  if (ref->operatorOwned && !ownedBy(cached->secret, mvs.uid)) {
    out.problemReason = "TokenSecretNotOwned";
    out.problem = fmt::format("{} exists but is not this MediVoteService's (no controller ownerReference to uid {}): "
                              "the operator neither uses nor replaces it. Delete it to let the operator create the "
                              "agent's token, or name a Secret in spec.shutdown.endpoint.tokenSecretRef",
                              where, mvs.uid);
    out.blocksPods = true;
    return out;
  }
  const json data = cached->secret.value("data", json::object());
  auto invalid = [&](const std::string& what) {
    out.problemReason = "TokenSecretInvalid";
    out.problem = fmt::format("{} key '{}' {}", where, ref->key, what);
    out.blocksPods = ref->operatorOwned;
    return out;
  };
  if (!data.is_object() || !data.contains(ref->key) || !data[ref->key].is_string()) return invalid("is missing");
  auto decoded = util::base64Decode(data[ref->key].get<std::string>());
  if (!decoded) return invalid("is not valid base64");
  std::string token = std::move(*decoded);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return invalid("is empty");
  out.token = std::move(token);
  return out;
}

void TokenSecrets::invalidate(const api::MediVoteService& mvs) {
  const auto ref = tokenSecretOf(mvs);
  if (!ref) return;
  std::lock_guard<std::mutex> g(mu_);
  secrets_.erase(key(mvs.ns, ref->name));
}

void TokenSecrets::forget(const std::string& mvsKey) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = users_.find(mvsKey);
  if (it == users_.end()) return;
  const std::string secretKey = it->second;
  users_.erase(it);
  if (std::none_of(users_.begin(), users_.end(), [&](const auto& u) { return u.second == secretKey; }))
    secrets_.erase(secretKey);
}

void TokenSecrets::retain(const std::set<std::string>& mvsKeys) {
  std::vector<std::string> gone;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& [mvsKey, secretKey] : users_)
      if (!mvsKeys.count(mvsKey)) gone.push_back(mvsKey);
  }
  for (const auto& k : gone) forget(k);
}

std::size_t TokenSecrets::users() const {
  std::lock_guard<std::mutex> g(mu_);
  return users_.size();
}

std::size_t TokenSecrets::cachedSecrets() const {
  std::lock_guard<std::mutex> g(mu_);
  return secrets_.size();
}

}  // namespace mv::medivote
