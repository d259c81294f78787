// medivote-informer-probe: one runtime::informer::Informer against a cluster, driven over stdin, so that tests can
// compare what the informer holds with what the API server holds (issue 5, tests against the simulator).
//
// Usage: medivote-informer-probe --kubeconfig FILE --resource NAME [--namespace NS] [--label-selector SEL]
//            [--page-size N] [--first-list watch-cache|consistent] [--min-watch-timeout SECONDS]
//            [--transform strip|operator-pod|none] [--log-level debug|info|warn|error]
// --first-list: watch-cache (the default, as the operator) lists first at resourceVersion=0, which the API server
// answers whole; consistent lists first as every relist does, in pages of --page-size.
// NAME: pods, services, configmaps, leases, medivoteservices.
//
// Protocol: one command per stdin line; every answer ends with one line starting with "end".
//   dump   "cache <key> <resourceVersion>" for each cached object (sorted by key; decoded one at a time), then
//          "seen <key> <resourceVersion>" for each object of the handler view (sorted), then
//          "anomaly <text>" for each broken handler contract seen so far (at most 20), then
//          "end size=<n> synced=<true|false> state=<reflector state> rv=<last sync RV> adds=<n> updates=<n>
//           deletes=<n> anomalies=<n> encodedBytes=<n>"
//   info   only the "end" line of dump (cheap: nothing is decoded)
//   quit   stops the informer, answers "end stopped" and exits 0 (EOF on stdin does the same).
// The handler view is the map key -> resourceVersion built only from the onAdd/onUpdate/onDelete calls. It equals the
// cache when the handlers were told about every change. An anomaly is an onAdd for a key the view already holds, an
// onUpdate or onDelete for a key it does not hold, or an onUpdate whose old object is not the one the view holds.
// Logs (reflector state changes) go to stderr.
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/trust_roots.h"
#include "runtime/informer/informer.h"
#include "runtime/informer/object_key.h"
#include "runtime/informer/transforms.h"
#include "util/clock.h"
#include "util/log.h"

namespace {

using namespace mv;
using runtime::informer::json;

struct Options {
  std::string kubeconfig;
  std::string resource;
  std::string ns;
  std::string labelSelector;
  long pageSize = 500;
  bool firstListFromWatchCache = true;
  long minWatchTimeoutSeconds = 300;
  std::string transform = "strip";
  log::Level logLevel = log::Level::Info;
};

kube::Resource resourceNamed(const std::string& name) {
  namespace r = kube::resources;
  if (name == "pods") return r::pods();
  if (name == "services") return r::services();
  if (name == "configmaps") return r::configMaps();
  if (name == "leases") return r::leases();
  if (name == "medivoteservices") return r::mediVoteServices();
  throw std::invalid_argument("unknown --resource " + name);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--kubeconfig")
      o.kubeconfig = value();
    else if (a == "--resource")
      o.resource = value();
    else if (a == "--namespace")
      o.ns = value();
    else if (a == "--label-selector")
      o.labelSelector = value();
    else if (a == "--page-size")
      o.pageSize = std::stol(value());
    else if (a == "--first-list") {
      const std::string v = value();
      if (v != "watch-cache" && v != "consistent")
        throw std::invalid_argument("--first-list is watch-cache or consistent, not " + v);
      o.firstListFromWatchCache = v == "watch-cache";
    } else if (a == "--min-watch-timeout")
      o.minWatchTimeoutSeconds = std::stol(value());
    else if (a == "--transform")
      o.transform = value();
    else if (a == "--log-level")
      o.logLevel = log::parseLevel(value());
    else
      throw std::invalid_argument("unknown argument " + a);
  }
  if (o.kubeconfig.empty() || o.resource.empty()) throw std::invalid_argument("--kubeconfig and --resource are needed");
  return o;
}

// The handler view and the anomalies found in the calls that built it.
class HandlerView {
 public:
  runtime::informer::EventHandler handler() {
    return {[this](const json& o) { add(o); }, [this](const json& a, const json& b) { update(a, b); },
            [this](const json& o) { remove(o); }};
  }

  // Writes the "seen" and "anomaly" lines to `out` (unless null) and returns the counters.
  void print(std::ostream* out, std::size_t& adds, std::size_t& updates, std::size_t& deletes, std::size_t& anomalies) {
    std::lock_guard<std::mutex> g(mu_);
    if (out) {
      for (const auto& [key, rv] : view_) *out << "seen " << key << " " << rv << "\n";
      for (std::size_t i = 0; i < anomalies_.size() && i < 20; ++i) *out << "anomaly " << anomalies_[i] << "\n";
    }
    adds = adds_;
    updates = updates_;
    deletes = deletes_;
    anomalies = anomalies_.size();
  }

 private:
  void add(const json& o) {
    const auto key = runtime::informer::objectKey(o);
    std::lock_guard<std::mutex> g(mu_);
    ++adds_;
    if (view_.count(key)) anomalies_.push_back("onAdd for a key already seen: " + key);
    view_[key] = runtime::informer::resourceVersionOf(o);
  }
  void update(const json& before, const json& after) {
    const auto key = runtime::informer::objectKey(after);
    std::lock_guard<std::mutex> g(mu_);
    ++updates_;
    auto it = view_.find(key);
    if (it == view_.end()) {
      anomalies_.push_back("onUpdate for an unseen key: " + key);
    } else if (it->second != runtime::informer::resourceVersionOf(before)) {
      anomalies_.push_back("onUpdate whose old object is not the last seen: " + key + " had " + it->second +
                           ", old is " + runtime::informer::resourceVersionOf(before));
    }
    view_[key] = runtime::informer::resourceVersionOf(after);
  }
  void remove(const json& o) {
    const auto key = runtime::informer::objectKey(o);
    std::lock_guard<std::mutex> g(mu_);
    ++deletes_;
    if (!view_.erase(key)) anomalies_.push_back("onDelete for an unseen key: " + key);
  }

  std::mutex mu_;
  std::map<std::string, std::string> view_;
  std::vector<std::string> anomalies_;
  std::size_t adds_ = 0, updates_ = 0, deletes_ = 0;
};

int run(const Options& o) {
  log::configure(o.logLevel, log::Format::Logfmt);
  kube::LoadOptions lo;
  lo.kubeconfig = o.kubeconfig;
  const auto connection = kube::loadConnectionConfig(lo);
  util::Clock& clock = util::RealClock::instance();
  auto client = kube::makeClient(connection, clock, {});

  runtime::informer::InformerOptions io;
  io.ns = o.ns;
  if (o.transform == "strip")
    io.transform = runtime::informer::stripManagedFields;
  else if (o.transform == "operator-pod") {
    io.transform = runtime::informer::projectPodForOperator;
    io.reflector.itemFields = runtime::informer::podOperatorFields();
  } else if (o.transform != "none")
    throw std::invalid_argument("unknown --transform " + o.transform);
  io.reflector.labelSelector = o.labelSelector;
  io.reflector.pageSize = o.pageSize;
  io.reflector.firstListFromWatchCache = o.firstListFromWatchCache;
  io.reflector.minWatchTimeout = std::chrono::seconds(o.minWatchTimeoutSeconds);
  runtime::informer::Informer informer(*client, resourceNamed(o.resource), clock, io);
  HandlerView view;
  informer.addEventHandler(view.handler());
  informer.start();

  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "dump" || line == "info") {
      const auto& store = informer.store();
      const bool full = line == "dump";
      if (full) {
        // One object decoded at a time: the probe's own memory stays what the cache costs.
        for (const auto& key : store.listKeys()) {
          if (auto object = store.get(key)) {
            std::cout << "cache " << key << " " << runtime::informer::resourceVersionOf(*object) << "\n";
          }
        }
      }
      std::size_t adds = 0, updates = 0, deletes = 0, anomalies = 0;
      view.print(full ? &std::cout : nullptr, adds, updates, deletes, anomalies);
      std::cout << "end size=" << store.size() << " synced=" << (informer.hasSynced() ? "true" : "false")
                << " state=" << runtime::informer::stateName(informer.state())
                << " rv=" << informer.lastSyncResourceVersion() << " adds=" << adds << " updates=" << updates
                << " deletes=" << deletes << " anomalies=" << anomalies << " encodedBytes=" << store.encodedBytes()
                << std::endl;
    } else if (line == "quit") {
      break;
    } else {
      std::cout << "end error=unknown-command" << std::endl;
    }
  }
  informer.stop();
  std::cout << "end stopped" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  mv::kube::detachImplicitTrustRoots();  // as the operator does: system CA roots loaded once, not per connection
  Options options;
  try {
    options = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "medivote-informer-probe: " << e.what() << "\n";
    return 2;
  }
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::cerr << "medivote-informer-probe: " << e.what() << "\n";
    return 1;
  }
}
