#pragma once
// The bearer token of a resource's shutdown endpoint, and the Secret it comes from.
//
// Where the token lives (tokenSecretOf):
// - spec.shutdown.endpoint.tokenSecretRef set: the user's Secret and key. The operator only reads it (by name); it
//   never creates, changes or deletes it.
// - reach: agent without tokenSecretRef: the operator's own Secret `<mvs>-agent-token` (type Opaque, key `token`).
//   A user applying a preset gets a working agent with no Secret to write: the operator creates the Secret, before
//   any pod that mounts it, with 32 random bytes from the kernel's CSPRNG (getrandom), base64url-encoded, the labels
//   app.kubernetes.io/managed-by=medivote-operator and medivote.io/service=<mvs>, and a controller ownerReference to
//   the resource, so the garbage collector deletes it with the resource.
// - otherwise (reach: direct without a reference): no token.
//
// Contract of TokenSecrets::lookup:
// - A Secret of the operator's name that is not the resource's (no ownerReference to its uid), or that lacks a
//   usable `token` key, is never used, changed or deleted: the lookup reports the problem with blocksPods set (the
//   resource is Degraded, and no pod is created that would mount it).
// - A 409 AlreadyExists on create means someone (another replica) created it first: it is read and judged as above.
// - Deleted while its pods run: created again, with a new token, at the next reconcile after kResync. The pods keep
//   the old token until the kubelet refreshes the volume (the agent re-reads its token file when it changes); calls
//   in between are refused (401) and escalate (docs/architecture.md states the gap).
// - Reads: at most one GET per Secret per kResync, whatever the number of reconciles or of resources sharing it,
//   also when they look it up at the same time (one reads, the others wait for its answer); the cached copy keeps
//   only the Secret's uid, resourceVersion, ownerReferences and data. The operator's role has no list or watch on
//   secrets (deploy/, charts/: a list or watch would read every Secret of the namespace, RBAC cannot narrow it by
//   label), so there is no Secret informer: a deletion or change is seen at the first lookup after kResync, or
//   sooner after invalidate() (a call answered 401: the token in use may be outdated).
// - Refreshes are paced: a lookup that finds its cached copy older than kResync re-reads it only when the refresh
//   budget (`refreshQps`, a token bucket of burst 1, shared by all Secrets) has a slot now; otherwise it answers from
//   the cached copy and reserves the next free slot, first come first served, reported as TokenLookup::nextRead (the
//   reconciler requeues the resource for it). So re-reads never take more than refreshQps of the client's request
//   rate, whatever the number of Secrets, and a Secret's copy is at most kResync + (Secrets / refreshQps) old
//   (1,000 Secrets at 2/s: 530 s) while the operator keeps up. A lookup more than kSlotGrace after its slot (the
//   operator is behind: its workers wait on the API) has missed it and reserves a new one, so missed slots are not
//   caught up in a burst: in any W seconds there are at most (W + kSlotGrace) * refreshQps + 1 refreshes. A read with
//   no cached copy (the first one, or after invalidate()) and the create of a missing operator Secret are never
//   paced: pods wait for them.
// - The token itself is only ever in TokenLookup::token: never in a problem message, a log field or an Event.
// - API failures other than 404 (read) and 409 (create) propagate as kube::Error; a 403 on create is reported as a
//   problem (the operator's role lacks `create` on secrets), so an old installation shows why.
// Thread-safe.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "api/medivoteservice.h"
#include "kube/client.h"
#include "util/clock.h"
#include "util/token_bucket.h"

namespace mv::medivote {

using json = nlohmann::json;

inline constexpr std::string_view kAgentTokenKey = "token";
inline constexpr std::size_t kAgentTokenBytes = 32;

// The name of the operator's token Secret for a resource.
std::string agentTokenSecretName(const std::string& mvsName);

struct TokenSecretRef {
  std::string name;
  std::string key;
  bool operatorOwned = false;  // the operator's `<mvs>-agent-token`
};
// The Secret holding the endpoint's token, or nullopt when the endpoint needs none. Pure.
std::optional<TokenSecretRef> tokenSecretOf(const api::MediVoteService& mvs);

// A new random token: kAgentTokenBytes from getrandom(2), base64url without padding. Throws std::system_error when
// the kernel has no randomness to give.
std::string newAgentToken();

struct TokenLookup {
  std::optional<std::string> token;  // set when the endpoint needs a token and the Secret gives a usable one
  // When a token is needed and there is none: the Degraded reason (SecretNotFound, TokenSecretNotOwned,
  // TokenSecretInvalid, TokenSecretForbidden) and a sentence for the condition and the Event (never the token).
  std::string problemReason;
  std::string problem;
  bool blocksPods = false;      // a pod would mount a Secret that is not the resource's (or none): create none
  std::string secretVersion;    // the Secret's resourceVersion as read ("" when there is none)
  // When a Secret is used: the first moment the next lookup re-reads it (the copy's kResync, or the paced refresh's
  // reserved slot). Unset when the endpoint needs no Secret.
  std::optional<util::Clock::TimePoint> nextRead;
};

class TokenSecrets {
 public:
  // Re-read a Secret at most this often (a resync). Also how soon a deleted operator Secret is created again when
  // the reconciler requeues resources that use one (see MediVoteReconciler).
  static constexpr std::chrono::seconds kResync{30};
  // How late a paced refresh may come to its slot and still use it.
  static constexpr std::chrono::seconds kSlotGrace{1};

  // The refresh budget for a client limited to `clientQps` requests per second: a tenth of it, so that refreshes
  // leave the rest to the writes a user waits for (pod creates, shutdown stages, status). A quarter was measured too
  // much: bench/reaction.py's scale-ups (4 requests each, 4 a second) plus 5 refreshes a second reached deploy/'s 20
  // QPS, and its p99 went from 4.4 to 80-103 ms (bench/README.md, "Reaction"). 0 (unlimited) for an unlimited one.
  static double refreshBudgetFor(double clientQps);

  using TokenSource = std::function<std::string()>;
  // `refreshQps` <= 0: refreshes are not paced (each stale copy is re-read at its lookup).
  TokenSecrets(kube::Client& client, util::Clock& clock, TokenSource newToken = newAgentToken, double refreshQps = 0);

  // The token for `mvs`'s endpoint calls. Creates the operator's Secret when the resource needs one and it is
  // missing, unless `mayCreate` is false (an invalid spec or a resource being deleted creates nothing).
  TokenLookup lookup(const api::MediVoteService& mvs, bool mayCreate);

  // The cached copy of `mvs`'s Secret is no longer trusted (a shutdown call was answered 401 or another answer that
  // reports a misconfiguration): the next lookup of it reads it again, once, whoever makes it.
  void invalidate(const api::MediVoteService& mvs);

  // The resource `mvsKey` ("namespace/name") is gone: release what was kept for it (and the cached Secret, when no
  // other resource uses it).
  void forget(const std::string& mvsKey);
  // Every resource not in `mvsKeys` is gone (its deletion went unseen): forget it.
  void retain(const std::set<std::string>& mvsKeys);

  std::size_t cachedSecrets() const;
  std::size_t users() const;  // resources with a Secret looked up

 private:
  struct Cached {
    bool found = false;
    json secret;  // metadata {uid, resourceVersion, ownerReferences} and data, when found
    util::Clock::TimePoint readAt;
    std::optional<util::Clock::TimePoint> refreshAt;  // a paced refresh's reserved slot, once the copy is stale
  };
  Cached read(const std::string& ns, const std::string& name);
  Cached create(const api::MediVoteService& mvs, const std::string& name, std::string& forbidden);
  void store(const std::string& secretKey, const Cached& c);

  kube::Client& client_;
  util::Clock& clock_;
  TokenSource newToken_;
  util::TokenBucket refreshBudget_;

  mutable std::mutex mu_;
  std::condition_variable fetched_;             // a read (or create) in fetching_ ended
  std::set<std::string> fetching_;              // Secrets being read (or created) now: other lookups wait for it
  std::map<std::string, Cached> secrets_;       // "namespace/name" of the Secret → last read
  std::map<std::string, std::string> users_;    // resource key → the Secret key it uses
};

}  // namespace mv::medivote
