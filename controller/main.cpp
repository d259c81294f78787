// medivote-controller: the MediVoteService operator. Flags and wiring only; the machinery lives in src/.
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/trust_roots.h"
#include "kube/write_guard.h"
#include "medivote/reconciler.h"
#include "medivote/shutdown_order.h"
#include "runtime/controller/controller.h"
#include "runtime/events/event_recorder.h"
#include "runtime/informer/freshness_check.h"
#include "runtime/informer/informer.h"
#include "runtime/informer/object_key.h"
#include "runtime/informer/owner_keys.h"
#include "runtime/leaderelection/lease_leader_elector.h"
#include "runtime/manager/flags.h"
#include "runtime/manager/manager.h"
#include "runtime/manager/runnable.h"
#include "runtime/manager/signals.h"
#include "runtime/memory/allocator.h"
#include "runtime/memory/heap_scavenger.h"
#include "runtime/metrics/registry.h"
#include "shutdown/endpoint_caller.h"
#include "shutdown/endpoint_membership.h"
#include "shutdown/metrics.h"
#include "shutdown/pod_lookup.h"
#include "shutdown/runner.h"
#include "util/clock.h"
#include "util/log.h"

namespace {

using namespace mv;

// The flags of the MediVote operator itself; the runtime's flags (connection, leader election, metrics, health,
// logging) are parsed by runtime::manager::parseFlags.
struct OperatorFlags {
  medivote::PodSettings pod;
  int maxConcurrentShutdownCalls = 64;
  runtime::informer::StreamingList streamingList = runtime::informer::StreamingList::Off;
};

constexpr std::string_view kOperatorUsage = R"(
MediVote flags:
  --agent-image=IMAGE                   image of the medivote-agent sidecar injected for reach: agent
                                        (default medivote/agent:dev)
  --agent-port=PORT                     port the agent listens on in the pod (default 9901)
  --max-concurrent-shutdown-calls=N     shutdown endpoint calls in flight at once, across all resources (default 64)
  --streaming-list=off|auto             how the informers list: off pages (limit 500); auto asks for a streaming list
                                        (sendInitialEvents) and pages if the server cannot serve one (default off)
)";

// Takes the operator's own flags out of `args`; throws std::invalid_argument on a bad value.
OperatorFlags takeOperatorFlags(std::vector<std::string>& args) {
  OperatorFlags f;
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& name) -> std::optional<std::string> {
      if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
      if (a == name) {
        if (i + 1 >= args.size()) throw std::invalid_argument(name + " needs a value");
        return args[++i];
      }
      return std::nullopt;
    };
    auto number = [](const std::string& name, const std::string& v, int min, int max) {
      try {
        std::size_t used = 0;
        const int n = std::stoi(v, &used);
        if (used != v.size() || n < min || n > max) throw std::invalid_argument(v);
        return n;
      } catch (const std::exception&) {
        throw std::invalid_argument(fmt::format("{} must be a number from {} to {}, not '{}'", name, min, max, v));
      }
    };
    if (auto v = value("--agent-image")) {
      if (v->empty()) throw std::invalid_argument("--agent-image must not be empty");
      f.pod.agentImage = *v;
    } else if (auto v = value("--agent-port")) {
      f.pod.agentPort = number("--agent-port", *v, 1, 65535);
    } else if (auto v = value("--max-concurrent-shutdown-calls")) {
      f.maxConcurrentShutdownCalls = number("--max-concurrent-shutdown-calls", *v, 1, 4096);
    } else if (auto v = value("--streaming-list")) {
      if (*v == "off") {
        f.streamingList = runtime::informer::StreamingList::Off;
      } else if (*v == "auto") {
        f.streamingList = runtime::informer::StreamingList::Auto;
      } else {
        throw std::invalid_argument("--streaming-list must be off or auto, not '" + *v + "'");
      }
    } else {
      rest.push_back(a);
    }
  }
  args = std::move(rest);
  return f;
}

std::string hostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  OperatorFlags op;
  try {
    op = takeOperatorFlags(args);
  } catch (const std::invalid_argument& e) {
    std::cerr << "medivote-controller: " << e.what() << "\n";
    return 2;
  }
  auto parsed = runtime::manager::parseFlags(args);
  if (auto* err = std::get_if<runtime::manager::FlagError>(&parsed)) {
    std::cerr << "medivote-controller: " << err->message << "\nRun with --help for usage.\n";
    return 2;
  }
  const auto flags = std::get<runtime::manager::Flags>(parsed);
  if (flags.help) {
    std::cout << runtime::manager::usage("medivote-controller") << kOperatorUsage;
    return 0;
  }
  if (flags.version) {
    std::cout << "medivote-controller " << MEDIVOTE_VERSION << "\n";
    return 0;
  }
  log::configure(flags.logLevel, flags.logFormat);

  kube::ConnectionConfig connection;
  try {
    kube::LoadOptions lo;
    if (!flags.kubeconfig.empty()) lo.kubeconfig = flags.kubeconfig;
    if (!flags.context.empty()) lo.context = flags.context;
    connection = kube::loadConnectionConfig(lo);
  } catch (const kube::ConfigError& e) {
    log::error("cannot load the cluster configuration", {{"error", e.what()}});
    return 1;
  }
  log::info("starting medivote-controller",
            {{"version", MEDIVOTE_VERSION}, {"server", connection.server}, {"source", connection.source},
             {"allocator", runtime::memory::allocatorName()}});

  util::Clock& clock = util::RealClock::instance();
  runtime::metrics::Registry registry;
  kube::ClientOptions clientOptions;
  clientOptions.qps = flags.kubeApiQps;
  clientOptions.burst = flags.kubeApiBurst;
  clientOptions.observer = registry.restClient().observer(connection.server);
  std::unique_ptr<kube::RestClient> client;
  // Events get a client (and so a rate limit) of their own: a burst of Events must not delay pod operations, nor
  // pod operations crowd out the Events that explain them (issue 15 item 10).
  std::unique_ptr<kube::RestClient> eventClient;
  try {
    client = kube::makeClient(connection, clock, clientOptions);
    // Its User-Agent says which client wrote (API server audit logs), as client-go's leader election client does.
    kube::ClientOptions eventOptions = clientOptions;
    eventOptions.userAgent += "/events";
    eventClient = kube::makeClient(connection, clock, eventOptions);
  } catch (const std::exception& e) {
    log::error("cannot build the API client", {{"error", e.what()}});
    return 1;
  }

  // Leader election on the unguarded client (its own renewals are how it regains the right to write).
  std::unique_ptr<runtime::leaderelection::LeaseLeaderElector> elector;
  if (flags.leaderElect) {
    runtime::leaderelection::LeaderElectionConfig le;
    le.leaseNamespace = flags.leaderElectionNamespace.empty() ? connection.namespace_ : flags.leaderElectionNamespace;
    le.leaseName = flags.leaderElectionId;
    le.leaseDuration = flags.leaseDuration;
    le.renewDeadline = flags.renewDeadline;
    le.retryPeriod = flags.retryPeriod;
    le.onMasterStatus = registry.leaderElection().statusCallback(flags.leaderElectionId);
    elector = std::make_unique<runtime::leaderelection::LeaseLeaderElector>(*client, clock, le);
    log::info("leader election enabled", {{"lease", le.leaseNamespace + "/" + le.leaseName},
                                          {"identity", elector->identity()}});
  }
  // Everything the operator writes goes through a guard that refuses writes unless the lease is held by this
  // replica's own clock (issue 15 item 3): a replica paused past its lease writes nothing before it has renewed.
  auto leaseHeld = [&elector] { return !elector || elector->leaseHeld(); };
  const std::string notLeading = "the leader lease is not held (lost, released, or not renewed in time)";
  kube::WriteGuardedClient writes(*client, leaseHeld, notLeading);
  kube::WriteGuardedClient eventWrites(*eventClient, leaseHeld, notLeading);

  // Informers: the operator's pods and Services only (by label), every MediVoteService.
  using runtime::informer::Informer;
  using runtime::informer::InformerOptions;
  const std::string managed = "app.kubernetes.io/managed-by=medivote-operator";
  InformerOptions mvsOptions;
  mvsOptions.ns = flags.watchNamespace;
  mvsOptions.transform = runtime::informer::stripManagedFields;
  mvsOptions.indexers[medivote::kShutdownAfterIndex] = medivote::indexByShutdownAfter;  // shutdown order
  InformerOptions podOptions;
  podOptions.ns = flags.watchNamespace;
  podOptions.transform = runtime::informer::projectPodForOperator;
  podOptions.reflector.itemFields = runtime::informer::podOperatorFields();  // decode only what it projects
  podOptions.reflector.labelSelector = managed;
  InformerOptions serviceOptions;
  serviceOptions.ns = flags.watchNamespace;
  serviceOptions.transform = runtime::informer::stripManagedFields;
  serviceOptions.reflector.labelSelector = managed;
  // EndpointSlices of the operator's Services, which carry its managed-by label (the endpoint slice controller copies
  // a Service's labels onto its slices: setEndpointSliceLabels), projected to what the Draining stage reads.
  InformerOptions sliceOptions;
  sliceOptions.ns = flags.watchNamespace;
  sliceOptions.transform = shutdown::projectEndpointSliceForDrain;
  sliceOptions.reflector.labelSelector = managed;
  for (auto* o : {&mvsOptions, &podOptions, &serviceOptions, &sliceOptions}) {
    o->reflector.streamingList = op.streamingList;
  }
  Informer mvsInformer(*client, kube::resources::mediVoteServices(), clock, mvsOptions);
  Informer podInformer(*client, kube::resources::pods(), clock, podOptions);
  Informer serviceInformer(*client, kube::resources::services(), clock, serviceOptions);
  Informer sliceInformer(*client, kube::resources::endpointSlices(), clock, sliceOptions);

  runtime::events::KubeEventRecorder events(eventWrites, clock, "medivote-controller", hostName());
  shutdown::ShutdownMetrics shutdownMetrics(registry.prometheus());
  auto caller = shutdown::makeHttpEndpointCaller();

  runtime::controller::ControllerOptions controllerOptions;
  controllerOptions.name = "medivoteservice";
  controllerOptions.maxConcurrentReconciles = flags.maxConcurrentReconciles;
  controllerOptions.metrics = &registry;
  runtime::controller::Controller* controllerPtr = nullptr;
  // The runner re-checks each call's target against the pod cache right before the call.
  shutdown::CachePodLookup podLookup([&podInformer](const std::string& key) { return podInformer.store().get(key); });
  shutdown::RunnerOptions runnerOptions;
  runnerOptions.pods = &podLookup;
  shutdown::ShutdownRunner runner(
      writes, *caller, events, &shutdownMetrics, clock,
      [&](const std::string& key) {
        if (controllerPtr) controllerPtr->enqueue(runtime::reconcile::Request::fromKey(key, "shutdown call answered"));
      },
      op.maxConcurrentShutdownCalls, runnerOptions);
  medivote::MediVoteReconciler reconciler(
      writes,
      {mvsInformer.store(), podInformer.store(), serviceInformer.store(), &sliceInformer.store(),
       [&sliceInformer] { return sliceInformer.hasSynced(); }},
      runner, events, clock, op.pod, medivote::TokenSecrets::refreshBudgetFor(flags.kubeApiQps));
  reconciler.setOrderMetrics(&shutdownMetrics);
  runtime::controller::Controller controller(std::move(controllerOptions), reconciler, clock);
  controllerPtr = &controller;

  auto enqueue = [&](const char* why) {
    return [&controller, why](const std::string& key) {
      controller.enqueue(runtime::reconcile::Request::fromKey(key, why));
    };
  };
  // First, so the runner knows a deleted pod's final container status before its owner is reconciled.
  podInformer.addEventHandler({{}, {}, [&runner](const nlohmann::json& lastKnown) { runner.podDeleted(lastKnown); }});
  mvsInformer.addEventHandler(runtime::informer::enqueueObjectKey(enqueue("MediVoteService changed")));
  // A deleted object's Events can never aggregate again (a new one has another uid): forget them (issue 15, soak).
  auto forgetEvents = [&events](const nlohmann::json& lastKnown) {
    events.forget(lastKnown.value("/metadata/uid"_json_pointer, std::string()));
  };
  podInformer.addEventHandler({{}, {}, forgetEvents});
  mvsInformer.addEventHandler({{}, {}, forgetEvents});
  podInformer.addEventHandler(
      runtime::informer::enqueueControllerOwner("MediVoteService", "medivote.io", enqueue("pod changed")));
  serviceInformer.addEventHandler(
      runtime::informer::enqueueControllerOwner("MediVoteService", "medivote.io", enqueue("Service changed")));
  // Shutdown order: a change of resource B, or of one of its pods, wakes every resource that names B in its
  // spec.shutdown.after (the wait ends when B's last pod is gone).
  auto enqueueWaiters = [&mvsInformer, enq = enqueue("a resource in spec.shutdown.after changed")](
                            const std::string& key) {
    for (const auto& waiter : mvsInformer.store().byIndex(medivote::kShutdownAfterIndex, key))
      enq(runtime::informer::objectKey(waiter));
  };
  auto waitersOfPod = [enqueueWaiters](const nlohmann::json& pod) {
    if (const auto owner = runtime::informer::controllerOwnerKey(pod, "MediVoteService", "medivote.io"))
      enqueueWaiters(*owner);
  };
  auto waitersOfResource = [enqueueWaiters](const nlohmann::json& mvs) {
    enqueueWaiters(runtime::informer::objectKey(mvs));
  };
  // Whether B has pods matters, and (podHoldsOrder) whether the service of a pod of B being deleted has exited.
  podInformer.addEventHandler({waitersOfPod,
                               [waitersOfPod](const nlohmann::json&, const nlohmann::json& now) {
                                 if (now.contains("/metadata/deletionTimestamp"_json_pointer)) waitersOfPod(now);
                               },
                               waitersOfPod});
  mvsInformer.addEventHandler(
      {waitersOfResource,
       [waitersOfResource](const nlohmann::json&, const nlohmann::json& now) { waitersOfResource(now); },
       waitersOfResource});
  // A slice change ends a Draining wait: the Service, and so its MediVoteService, has the slice's service-name.
  auto enqueueSliceOwner = [enq = enqueue("EndpointSlice changed")](const nlohmann::json& slice) {
    if (const std::string key = shutdown::serviceKeyOfSlice(slice); !key.empty()) enq(key);
  };
  sliceInformer.addEventHandler(
      {enqueueSliceOwner, [enqueueSliceOwner](const nlohmann::json&, const nlohmann::json& now) { enqueueSliceOwner(now); },
       enqueueSliceOwner});

  runtime::manager::Manager manager(runtime::manager::ManagerOptions::fromFlags(flags), clock, registry);
  for (Informer* inf : {&mvsInformer, &podInformer, &serviceInformer}) {
    manager.add(runtime::manager::makeRunnable(
        "informer/" + inf->resource().resource, false, [inf] { inf->start(); },
        [inf](util::Clock::TimePoint) {
          inf->stop();
          return true;
        }));
    manager.addCacheSync(inf->resource().resource,
                         [inf](util::Clock::TimePoint deadline) { return inf->waitForSync(deadline); });
    // Not ready while the cache is known stale: the API server's history went back, the relist is under way.
    manager.addReadyzCheck(runtime::informer::freshnessCheckName(*inf), runtime::informer::freshnessCheck(*inf));
  }
  // Not a cache the manager waits for: without EndpointSlices (RBAC denied, API not served) the operator still runs,
  // and Draining waits out its timeout while this informer has not synced (MediVoteReconciler::inEndpoints).
  manager.add(runtime::manager::makeRunnable(
      "informer/endpointslices", false, [&sliceInformer] { sliceInformer.start(); },
      [&sliceInformer](util::Clock::TimePoint) {
        sliceInformer.stop();
        return true;
      }));
  manager.addReadyzCheck(runtime::informer::freshnessCheckName(sliceInformer),
                         runtime::informer::freshnessCheck(sliceInformer));
  // The shutdown calls run only while leading, and stop with the leadership (issue 15 item 3): queued calls are
  // dropped, calls in flight abandoned without writing their answers. Added before the controller, so it stops
  // after it (the manager stops in reverse order) and catches the calls of the controller's last reconciles.
  manager.add(runtime::manager::makeRunnable(
      "shutdown-calls", true, [] {}, [&runner](util::Clock::TimePoint deadline) { return runner.stop(deadline); }));
  manager.addController(controller);
  if (elector) manager.setLeaderElector(elector.get());
  // On every replica: RSS that follows the heap in use (runtime/memory/heap_scavenger.h).
  runtime::memory::HeapScavenger scavenger(clock);
  manager.add(runtime::manager::makeRunnable(
      "heap-scavenger", false, [&scavenger] { scavenger.start(); },
      [&scavenger](util::Clock::TimePoint) {
        scavenger.stop();
        return true;
      }));

  runtime::manager::TerminationSignals signals([&](int signo) {
    log::info("termination signal received: stopping", {{"signal", signo}});
    manager.requestStop();
  });
  const int code = manager.run();
  // Abandoned work (a call or reconcile still running) holds the runner: the process ends without waiting for it.
  if (!manager.abandonedWork()) runner.stop();
  events.flush();
  log::info("medivote-controller stopped", {{"exitCode", code}});
  if (manager.abandonedWork()) std::_Exit(code);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // One malloc arena when running on glibc's malloc (sanitizer builds, MEDIVOTE_JEMALLOC=OFF; no effect on jemalloc,
  // which has its own narenas:1 in allocator_config.cpp): the worker threads would otherwise each grow an arena of
  // their own, and the informer caches' memory is dominated by how well freed list pages are reused
  // (bench/README.md: 38.3 → 34.2 MB with 10,000 pods).
  mallopt(M_ARENA_MAX, 1);
  mv::kube::detachImplicitTrustRoots();  // before any thread: system CA roots loaded once, not per connection
  mv::runtime::manager::blockTerminationSignals();
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    mv::log::error("medivote-controller failed", {{"error", e.what()}});
    return 1;
  }
}
