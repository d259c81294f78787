#include "medivote/agent_token.h"

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "medivote/pod_builder.h"
#include "support/fake_client.h"
#include "util/base64.h"

using namespace mv::medivote;
using namespace mv;
using json = nlohmann::json;
using mv::testing::FakeClient;

namespace {

json mvsJson(const std::string& reach, bool tokenRef) {
  json o = json::parse(R"({
    "apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService",
    "metadata": {"name": "node", "namespace": "ns", "uid": "mvs-uid", "generation": 1},
    "spec": {"replicas": 1, "tier": "critical",
             "template": {"spec": {"containers": [{"name": "node", "image": "node:1",
                                                   "ports": [{"name": "http", "containerPort": 8546}]}]}},
             "shutdown": {"endpoint": {"port": "http", "path": "/shutdown"}}}
  })");
  o["spec"]["shutdown"]["endpoint"]["reach"] = reach;
  if (tokenRef) o["spec"]["shutdown"]["endpoint"]["tokenSecretRef"] = {{"name", "user-token"}, {"key", "t"}};
  return o;
}

api::MediVoteService mvs(const std::string& reach = "agent", bool tokenRef = false) {
  return api::parseMediVoteService(mvsJson(reach, tokenRef)).object;
}

json secret(const std::string& name, const json& data, const json& ownerReferences = json::array()) {
  json s = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", name}, {"namespace", "ns"}}},
            {"data", data}};
  if (!ownerReferences.empty()) s["metadata"]["ownerReferences"] = ownerReferences;
  return s;
}

std::size_t count(const FakeClient& c, const std::string& verb) {
  std::size_t n = 0;
  for (const auto& call : c.calls(verb))
    if (call.resource == "secrets") ++n;
  return n;
}

// Counts the tokens handed out, each one different.
struct Tokens {
  int made = 0;
  TokenSecrets::TokenSource source() {
    return [this] { return "token-" + std::to_string(++made); };
  }
};

// The API, a clock, and the Secrets under test handing out counted tokens.
struct Fixture {
  FakeClient client;
  util::FakeClock clock;
  Tokens made;
  TokenSecrets tokens{client, clock, made.source()};
};

}  // namespace

TEST_CASE("a new agent token is 32 random bytes, base64url without padding") {
  const std::string a = newAgentToken();
  const std::string b = newAgentToken();
  CHECK(a.size() == 43);  // ceil(32 * 4 / 3)
  CHECK(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
  CHECK(a != b);
}

TEST_CASE("where the token lives: the user's Secret, the operator's own for reach agent, or none") {
  const auto user = tokenSecretOf(mvs("agent", true));
  REQUIRE(user);
  CHECK(user->name == "user-token");
  CHECK(user->key == "t");
  CHECK_FALSE(user->operatorOwned);
  const auto own = tokenSecretOf(mvs("agent", false));
  REQUIRE(own);
  CHECK(own->name == "node-agent-token");
  CHECK(own->key == "token");
  CHECK(own->operatorOwned);
  CHECK_FALSE(tokenSecretOf(mvs("direct", false)));
  json simple = mvsJson("agent", false);
  simple["spec"]["tier"] = "simple";  // never called: no Secret
  CHECK_FALSE(tokenSecretOf(api::parseMediVoteService(simple).object));
}

TEST_CASE("reach agent without tokenSecretRef: the operator creates its own Secret, owned by the resource") {
  FakeClient client;
  util::FakeClock clock;
  TokenSecrets tokens(client, clock);  // the real CSPRNG
  const TokenLookup got = tokens.lookup(mvs(), true);
  CHECK(got.problem.empty());
  REQUIRE(got.token);
  CHECK(got.token->size() == 43);
  REQUIRE(count(client, "create") == 1);
  const auto stored = client.object(kube::resources::secrets(), "ns", "node-agent-token");
  REQUIRE(stored);
  CHECK((*stored)["type"] == "Opaque");
  CHECK((*stored)["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "medivote-operator");
  CHECK((*stored)["metadata"]["labels"]["medivote.io/service"] == "node");
  const json ref = (*stored)["metadata"]["ownerReferences"][0];
  CHECK(ref["uid"] == "mvs-uid");
  CHECK(ref["controller"] == true);
  CHECK(ref["kind"] == "MediVoteService");
  CHECK(util::base64Decode((*stored)["data"]["token"].get<std::string>()) == got.token);
  CHECK(got.secretVersion == (*stored)["metadata"]["resourceVersion"]);
}

TEST_CASE("the Secret is read at most once per resync, however many reconciles or resources use it") {
  Fixture f;
  auto& [client, clock, made, tokens] = f;
  const auto first = tokens.lookup(mvs(), true);
  for (int i = 0; i < 5; ++i) CHECK(tokens.lookup(mvs(), true).token == first.token);
  CHECK(count(client, "get") == 1);  // the 404 before the create
  CHECK(count(client, "create") == 1);
  clock.advance(TokenSecrets::kResync);
  CHECK(tokens.lookup(mvs(), true).token == first.token);
  CHECK(count(client, "get") == 2);
  CHECK(count(client, "create") == 1);
  CHECK(made.made == 1);

  // Two resources naming the same Secret of the user's share one read.
  client.put(kube::resources::secrets(), secret("user-token", {{"t", util::base64Encode("s3cret\n")}}));
  json other = mvsJson("direct", true);
  other["metadata"]["name"] = "other";
  other["metadata"]["uid"] = "other-uid";
  const auto a = tokens.lookup(mvs("agent", true), true);
  const auto b = tokens.lookup(api::parseMediVoteService(other).object, true);
  CHECK(a.token == std::optional<std::string>("s3cret"));
  CHECK(b.token == a.token);
  CHECK(count(client, "get") == 3);
  CHECK(count(client, "create") == 1);  // never for the user's Secret
}

TEST_CASE("409 AlreadyExists on create (another replica was first): the Secret is read and used") {
  Fixture f;
  auto& [client, clock, made, tokens] = f;
  client.failNext("get", "secrets", mv::testing::notFoundError("secrets \"node-agent-token\""));
  client.put(kube::resources::secrets(),
             secret("node-agent-token", {{"token", util::base64Encode("theirs")}},
                    json::array({ownerReference(mvs())})));
  const auto got = tokens.lookup(mvs(), true);
  CHECK(count(client, "create") == 1);
  CHECK(count(client, "get") == 2);
  CHECK(got.token == std::optional<std::string>("theirs"));
  CHECK(got.problem.empty());
}

TEST_CASE("a Secret of the operator's name that is not the resource's is neither used nor touched") {
  Fixture f;
  auto& [client, clock, made, tokens] = f;
  json otherOwner = ownerReference(mvs());
  otherOwner["uid"] = "someone-else";
  for (const json& refs : {json::array(), json::array({otherOwner})}) {
    client.put(kube::resources::secrets(), secret("node-agent-token", {{"token", util::base64Encode("foreign")}}, refs));
    clock.advance(TokenSecrets::kResync);
    const auto got = tokens.lookup(mvs(), true);
    CHECK_FALSE(got.token);
    CHECK(got.problemReason == "TokenSecretNotOwned");
    CHECK(got.blocksPods);
    CHECK(got.problem.find("ns/node-agent-token") != std::string::npos);
    CHECK(got.problem.find("foreign") == std::string::npos);  // never the token
  }
  CHECK(count(client, "create") == 0);
  CHECK(count(client, "update") == 0);
  CHECK(count(client, "patch") == 0);
  CHECK(count(client, "remove") == 0);
}

TEST_CASE("the operator's Secret without a usable key: Degraded reason, pods blocked, nothing replaced") {
  Fixture f;
  auto& [client, clock, made, tokens] = f;
  const json owners = json::array({ownerReference(mvs())});
  for (const json& data : {json::object(), json{{"token", ""}}, json{{"token", "%%%"}}}) {
    client.put(kube::resources::secrets(), secret("node-agent-token", data, owners));
    clock.advance(TokenSecrets::kResync);
    const auto got = tokens.lookup(mvs(), true);
    CHECK_FALSE(got.token);
    CHECK(got.problemReason == "TokenSecretInvalid");
    CHECK(got.blocksPods);
  }
  CHECK(count(client, "create") == 0);
  CHECK(count(client, "update") == 0);
}

TEST_CASE("deleted while its pods run: created again with a new token at the next resync") {
  Fixture f;
  auto& [client, clock, made, tokens] = f;
  const auto first = tokens.lookup(mvs(), true);
  client.erase(kube::resources::secrets(), "ns", "node-agent-token");
  CHECK(tokens.lookup(mvs(), true).token == first.token);  // not re-read within the resync
  clock.advance(TokenSecrets::kResync);
  const auto second = tokens.lookup(mvs(), true);
  CHECK(count(client, "create") == 2);
  REQUIRE(second.token);
  CHECK(*second.token != *first.token);
  CHECK(second.secretVersion != first.secretVersion);
  CHECK(client.object(kube::resources::secrets(), "ns", "node-agent-token"));
}

TEST_CASE("nothing is created for an invalid spec or a resource being deleted, and a 403 on create is reported") {
  Fixture f;
  auto& [client, clock, made, tokens] = f;
  const auto notCreated = tokens.lookup(mvs(), false);
  CHECK(notCreated.problemReason == "SecretNotFound");
  CHECK(count(client, "create") == 0);

  clock.advance(TokenSecrets::kResync);
  client.failNext("create", "secrets", mv::testing::apiError(403, kube::StatusReason::Forbidden, "secrets is forbidden"));
  const auto forbidden = tokens.lookup(mvs(), true);
  CHECK(forbidden.problemReason == "TokenSecretForbidden");
  CHECK(forbidden.blocksPods);
  CHECK(forbidden.problem.find("'create' on secrets") != std::string::npos);
}

TEST_CASE("the user's Secret is only read: missing is SecretNotFound and blocks nothing") {
  Fixture f;
  auto& [client, clock, made, tokens] = f;
  const auto got = tokens.lookup(mvs("agent", true), true);
  CHECK(got.problemReason == "SecretNotFound");
  CHECK_FALSE(got.blocksPods);
  CHECK(count(client, "create") == 0);
}

TEST_CASE("what is kept for a resource is released when it is gone, and when it stops using the Secret") {
  Fixture f;
  auto& [client, clock, made, tokens] = f;
  client.put(kube::resources::secrets(), secret("user-token", {{"t", util::base64Encode("x")}}));
  tokens.lookup(mvs(), true);
  CHECK(tokens.cachedSecrets() == 1);
  tokens.lookup(mvs("agent", true), true);  // the same resource now names the user's Secret
  CHECK(tokens.cachedSecrets() == 1);
  tokens.forget("ns/node");
  CHECK(tokens.cachedSecrets() == 0);
  tokens.lookup(mvs(), true);
  tokens.lookup(mvs("direct"), true);  // no token any more
  CHECK(tokens.cachedSecrets() == 0);
}

// --- the token in the built pod ---------------------------------------------------------------------------------

namespace {
const json* volume(const json& pod, const std::string& name) {
  for (const auto& v : pod["spec"]["volumes"])
    if (v["name"] == name) return &v;
  return nullptr;
}
}  // namespace

TEST_CASE("the agent mounts the operator's token Secret, readable by its user (0444), and runs restricted") {
  const json pod = buildPod(mvs(), 0, api::Tier::Critical, {});
  const json& agent = pod["spec"]["initContainers"][0];
  REQUIRE(agent["name"] == "medivote-agent");
  CHECK(agent["args"].dump().find("\"--token-file=/var/run/medivote-agent/token\"") != std::string::npos);
  const json* v = volume(pod, "medivote-agent-token");
  REQUIRE(v);
  CHECK((*v)["secret"]["secretName"] == "node-agent-token");
  CHECK((*v)["secret"]["defaultMode"] == 0444);
  CHECK(agent["volumeMounts"][0]["name"] == "medivote-agent-token");
  CHECK(agent["volumeMounts"][0]["readOnly"] == true);
  for (const auto& c : pod["spec"]["containers"]) CHECK_FALSE(c.contains("volumeMounts"));
  const json& sc = agent["securityContext"];
  CHECK(sc["runAsUser"] == 65532);
  CHECK(sc["runAsGroup"] == 65532);
  CHECK(sc["runAsNonRoot"] == true);
  CHECK(sc["allowPrivilegeEscalation"] == false);
  CHECK(sc["seccompProfile"]["type"] == "RuntimeDefault");
  CHECK(sc["capabilities"]["drop"] == json::array({"ALL"}));
  CHECK_FALSE(pod["spec"].contains("securityContext"));  // no fsGroup of the operator's: the claims keep theirs
}

TEST_CASE("with the pod's own fsGroup the token is 0440, and the user's Secret and key are mounted as named") {
  json o = mvsJson("agent", true);
  o["spec"]["template"]["spec"]["securityContext"] = {{"fsGroup", 2000}};
  const json pod = buildPod(api::parseMediVoteService(o).object, 0, api::Tier::Critical, {});
  const json* v = volume(pod, "medivote-agent-token");
  REQUIRE(v);
  CHECK((*v)["secret"]["secretName"] == "user-token");
  CHECK((*v)["secret"]["defaultMode"] == 0440);
  CHECK(pod["spec"]["initContainers"][0]["args"].dump().find("--token-file=/var/run/medivote-agent/t\"") !=
        std::string::npos);
}

TEST_CASE("retain forgets the resources that no longer exist, and their Secret when nobody else uses it") {
  Fixture f;
  auto& [client, clock, made, tokens] = f;
  tokens.lookup(mvs(), true);
  CHECK(tokens.users() == 1);
  tokens.retain({"ns/node"});
  CHECK(tokens.users() == 1);
  CHECK(tokens.cachedSecrets() == 1);
  tokens.retain({});
  CHECK(tokens.users() == 0);
  CHECK(tokens.cachedSecrets() == 0);
}

TEST_CASE("invalidate (a call answered 401): the next lookup reads the Secret again, once, and sees its change") {
  Fixture f;
  auto& [client, clock, made, tokens] = f;
  client.put(kube::resources::secrets(), secret("user-token", {{"t", util::base64Encode("old")}}));
  const auto before = tokens.lookup(mvs("agent", true), true);
  CHECK(before.token == std::optional<std::string>("old"));
  client.put(kube::resources::secrets(), secret("user-token", {{"t", util::base64Encode("rotated")}}));
  CHECK(tokens.lookup(mvs("agent", true), true).token == before.token);  // within the resync: cached
  CHECK(count(client, "get") == 1);
  tokens.invalidate(mvs("agent", true));
  const auto after = tokens.lookup(mvs("agent", true), true);
  CHECK(after.token == std::optional<std::string>("rotated"));
  CHECK(after.secretVersion != before.secretVersion);
  for (int i = 0; i < 3; ++i) tokens.lookup(mvs("agent", true), true);
  CHECK(count(client, "get") == 2);
  tokens.invalidate(mvs("direct", false));  // no Secret: nothing to drop
  CHECK(tokens.cachedSecrets() == 1);
}

namespace {
// A client whose Secret GETs wait until the test opens the gate (the other calls go straight to the fake).
class GatedClient final : public kube::Client {
 public:
  explicit GatedClient(FakeClient& c) : c_(c) {}
  json get(const kube::Resource& r, const std::string& ns, const std::string& name,
           const std::string& sub = "") override {
    {
      std::unique_lock<std::mutex> g(mu_);
      ++gets_;
      changed_.notify_all();
      changed_.wait(g, [&] { return open_; });
    }
    return c_.get(r, ns, name, sub);
  }
  // Waits (real time, bounded) until `n` GETs arrived; whether they did.
  bool awaitGets(int n, std::chrono::milliseconds within) {
    std::unique_lock<std::mutex> g(mu_);
    return changed_.wait_for(g, within, [&] { return gets_ >= n; });
  }
  void open() {
    std::lock_guard<std::mutex> g(mu_);
    open_ = true;
    changed_.notify_all();
  }
  json list(const kube::Resource& r, const std::string& ns, const kube::ListOptions& o = {}) override {
    return c_.list(r, ns, o);
  }
  json create(const kube::Resource& r, const std::string& ns, const json& o, const kube::WriteOptions& w = {}) override {
    return c_.create(r, ns, o, w);
  }
  json update(const kube::Resource& r, const std::string& ns, const json& o, const std::string& sub = "",
              const kube::WriteOptions& w = {}) override {
    return c_.update(r, ns, o, sub, w);
  }
  json patch(const kube::Resource& r, const std::string& ns, const std::string& name, kube::PatchType t,
             const json& p, const std::string& sub = "", const kube::WriteOptions& w = {}) override {
    return c_.patch(r, ns, name, t, p, sub, w);
  }
  json remove(const kube::Resource& r, const std::string& ns, const std::string& name,
              const kube::DeleteOptions& o = {}) override {
    return c_.remove(r, ns, name, o);
  }
  json createSubresource(const kube::Resource& r, const std::string& ns, const std::string& name,
                         const std::string& sub, const json& b, const kube::WriteOptions& w = {}) override {
    return c_.createSubresource(r, ns, name, sub, b, w);
  }
  void watch(const kube::Resource& r, const std::string& ns, const kube::WatchOptions& o,
             const std::function<void(const kube::WatchEvent&)>& on, kube::CancelToken& cancel) override {
    c_.watch(r, ns, o, on, cancel);
  }

 private:
  FakeClient& c_;
  std::mutex mu_;
  std::condition_variable changed_;
  int gets_ = 0;
  bool open_ = false;
};
}  // namespace

TEST_CASE("resources sharing a Secret looked up side by side make one GET: the others wait for its answer") {
  FakeClient fake;
  fake.put(kube::resources::secrets(), secret("user-token", {{"t", util::base64Encode("s3cret")}}));
  GatedClient client(fake);
  util::FakeClock clock;
  TokenSecrets tokens{client, clock};
  constexpr int kResources = 4;
  std::vector<std::optional<std::string>> got(kResources);
  std::vector<std::thread> threads;
  for (int i = 0; i < kResources; ++i) {
    threads.emplace_back([&, i] {
      json o = mvsJson("direct", true);
      o["metadata"]["name"] = "svc-" + std::to_string(i);
      o["metadata"]["uid"] = "uid-" + std::to_string(i);
      got[i] = tokens.lookup(api::parseMediVoteService(o).object, true).token;
    });
  }
  REQUIRE(client.awaitGets(1, std::chrono::seconds(5)));
  // While the first GET is unanswered no other lookup reads (without the wait each would: this would see a second).
  CHECK_FALSE(client.awaitGets(2, std::chrono::milliseconds(200)));
  client.open();
  for (auto& t : threads) t.join();
  for (const auto& token : got) CHECK(token == std::optional<std::string>("s3cret"));
  CHECK(count(fake, "get") == 1);
  CHECK(tokens.users() == kResources);
  CHECK(tokens.cachedSecrets() == 1);
}

TEST_CASE("a failed read ends the fetch: the next lookup reads the Secret itself") {
  Fixture f;
  auto& [client, clock, made, tokens] = f;
  client.put(kube::resources::secrets(), secret("user-token", {{"t", util::base64Encode("s3cret")}}));
  client.failNext("get", "secrets", kube::ApiError(500, kube::StatusReason::InternalError, "etcd", json::object()));
  CHECK_THROWS_AS(tokens.lookup(mvs("agent", true), true), kube::ApiError);
  CHECK(tokens.lookup(mvs("agent", true), true).token == std::optional<std::string>("s3cret"));
  CHECK(count(client, "get") == 2);
}

namespace {
api::MediVoteService numbered(int i) {
  json o = mvsJson("agent", false);
  o["metadata"]["name"] = "svc-" + std::to_string(i);
  o["metadata"]["uid"] = "uid-" + std::to_string(i);
  return api::parseMediVoteService(o).object;
}
}  // namespace

TEST_CASE("refreshes are paced: a stale copy is used until its slot, slots go first come first served") {
  FakeClient client;
  util::FakeClock clock;
  Tokens made;
  TokenSecrets tokens{client, clock, made.source(), 2.0};  // 2 refreshes a second, burst 1
  constexpr int kResources = 5;
  std::vector<TokenLookup> first;
  for (int i = 0; i < kResources; ++i) first.push_back(tokens.lookup(numbered(i), true));
  // First reads and creates are never paced (pods wait for them).
  CHECK(count(client, "get") == kResources);
  CHECK(count(client, "create") == kResources);
  const auto t0 = clock.now();
  for (const auto& l : first) CHECK(l.nextRead == t0 + TokenSecrets::kResync);

  clock.advance(TokenSecrets::kResync);
  const auto stale = clock.now();
  std::vector<TokenLookup> round;
  for (int i = 0; i < kResources; ++i) round.push_back(tokens.lookup(numbered(i), true));
  CHECK(count(client, "get") == kResources + 1);  // the budget's one slot now: svc-0 is read
  CHECK(round[0].nextRead == stale + TokenSecrets::kResync);
  for (int i = 1; i < kResources; ++i) {
    CHECK(round[i].token == first[i].token);  // the stale copy, still usable
    CHECK(round[i].nextRead == stale + std::chrono::milliseconds(500 * i));  // its slot, in order of asking
  }
  // Asking again before the slot reads nothing and keeps the slot (no second reservation).
  for (int i = 1; i < kResources; ++i) CHECK(tokens.lookup(numbered(i), true).nextRead == round[i].nextRead);
  CHECK(count(client, "get") == kResources + 1);

  // svc-4's Secret is deleted meanwhile: its copy is used until its slot, then it is created again.
  client.erase(kube::resources::secrets(), "ns", agentTokenSecretName("svc-4"));
  clock.advance(std::chrono::milliseconds(500));
  CHECK(tokens.lookup(numbered(1), true).nextRead == clock.now() + TokenSecrets::kResync);
  CHECK(tokens.lookup(numbered(2), true).nextRead == round[2].nextRead);  // not yet its slot
  CHECK(count(client, "get") == kResources + 2);
  clock.advance(std::chrono::milliseconds(1500));
  for (int i = 2; i < kResources; ++i) tokens.lookup(numbered(i), true);
  CHECK(count(client, "get") == 2 * kResources);  // each Secret once in the round, no more
  CHECK(count(client, "create") == kResources + 1);
  const auto recreated = tokens.lookup(numbered(4), true);
  REQUIRE(recreated.token);
  CHECK(*recreated.token != *first[4].token);

  // The budget is spent (in debt for svc-4's slot); still, a read the user waits for is never paced: an
  // invalidated copy (a call answered 401) and a new resource's first lookup read at once.
  tokens.invalidate(numbered(0));
  tokens.lookup(numbered(0), true);
  tokens.lookup(numbered(kResources), true);
  CHECK(count(client, "get") == 2 * kResources + 2);
}

TEST_CASE("a refresh slot missed by more than the grace (the operator is behind) is given up, not caught up") {
  FakeClient client;
  util::FakeClock clock;
  Tokens made;
  TokenSecrets tokens{client, clock, made.source(), 2.0};
  constexpr int kResources = 4;
  for (int i = 0; i < kResources; ++i) tokens.lookup(numbered(i), true);
  clock.advance(TokenSecrets::kResync);
  for (int i = 0; i < kResources; ++i) tokens.lookup(numbered(i), true);  // svc-0 read, the others get slots
  REQUIRE(count(client, "get") == kResources + 1);

  // The operator comes back 10 s later, long after every slot: one read (the budget has refilled to its burst of 1),
  // new slots for the rest, in order of asking, instead of three reads at once.
  clock.advance(std::chrono::seconds(10));
  const auto late = clock.now();
  std::vector<TokenLookup> again;
  for (int i = 1; i < kResources; ++i) again.push_back(tokens.lookup(numbered(i), true));
  CHECK(count(client, "get") == kResources + 2);
  CHECK(again[0].nextRead == late + TokenSecrets::kResync);
  CHECK(again[1].nextRead == late + std::chrono::milliseconds(500));
  CHECK(again[2].nextRead == late + std::chrono::milliseconds(1000));
  // Within the grace a slot still counts: svc-2 comes back 1 s after its slot and reads.
  clock.advance(std::chrono::milliseconds(1500));
  tokens.lookup(numbered(2), true);  // its slot was 1 s ago
  CHECK(count(client, "get") == kResources + 3);
}

TEST_CASE("the refresh budget is a tenth of the client's request rate") {
  CHECK(TokenSecrets::refreshBudgetFor(20) == doctest::Approx(2));
  CHECK(TokenSecrets::refreshBudgetFor(0) == 0);
  CHECK(TokenSecrets::refreshBudgetFor(-1) == 0);
}
