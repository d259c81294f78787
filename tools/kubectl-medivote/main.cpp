// kubectl-medivote: the kubectl plugin (kubectl runs it for `kubectl medivote ...`). Wiring only: arguments
// (cli/options.h), reads from the API server over the project's own client (kube/), the reports (cli/reports.h) and
// their rendering (cli/render.h). It only reads: get and list of MediVoteServices, pods and EndpointSlices.

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "api/names.h"
#include "cli/options.h"
#include "cli/render.h"
#include "cli/reports.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/trust_roots.h"
#include "shutdown/endpoint_membership.h"
#include "util/clock.h"

namespace {

using namespace mv;
using json = nlohmann::json;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

std::vector<json> items(const json& list) {
  std::vector<json> out;
  for (const auto& i : list.value("items", json::array())) out.push_back(i);
  return out;
}

// The MediVoteServices of the command: the one named, every one in the namespace, or in every namespace.
std::vector<json> resources(kube::Client& client, const cli::Options& o, const std::string& ns) {
  if (!o.name.empty()) return {client.get(kube::resources::mediVoteServices(), ns, o.name)};
  std::vector<json> all = items(kube::listAll(client, kube::resources::mediVoteServices(), o.allNamespaces ? "" : ns, {}));
  return all;
}

cli::ResourceView view(kube::Client& client, json mvs) {
  cli::ResourceView v;
  const std::string ns = mvs.value("/metadata/namespace"_json_pointer, std::string());
  const std::string name = mvs.value("/metadata/name"_json_pointer, std::string());
  kube::ListOptions pods;
  pods.labelSelector = fmt::format("{}={}", api::kLabelService, name);
  v.pods = items(kube::listAll(client, kube::resources::pods(), ns, pods));
  try {
    kube::ListOptions slices;
    slices.labelSelector = fmt::format("{}={}", shutdown::kLabelServiceName, name);
    v.slices = items(kube::listAll(client, kube::resources::endpointSlices(), ns, slices));
  } catch (const kube::ApiError&) {
    // Not readable (RBAC, API not served): the status says "cannot tell", as the operator's drain does.
  }
  v.mvs = std::move(mvs);
  return v;
}

int run(const cli::Options& o) {
  const kube::ConnectionConfig connection = kube::loadConnectionConfig({o.kubeconfig, o.context});
  const std::string ns = o.ns.value_or(connection.namespace_);
  util::RealClock clock;
  kube::ClientOptions options;
  options.qps = 50;
  options.burst = 100;
  options.requestTimeout = std::chrono::seconds(15);
  options.userAgent = "kubectl-medivote/" MEDIVOTE_VERSION;
  const auto client = kube::makeClient(connection, clock, options);
  const cli::RenderOptions render{cli::useColor(o.color, isatty(STDOUT_FILENO) == 1, std::getenv("NO_COLOR"))};
  const bool asJson = o.output == cli::Output::Json;
  try {
    switch (o.command) {
      case cli::Command::Status: {
        std::vector<cli::ResourceView> views;
        for (auto& mvs : resources(*client, o, ns)) views.push_back(view(*client, std::move(mvs)));
        const json report = cli::statusReport(views, clock.wallNow());
        if (!asJson && views.empty() && !o.allNamespaces) {
          std::cerr << fmt::format("No resources found in {} namespace.\n", ns);
          return 0;
        }
        std::cout << (asJson ? cli::renderJson(report) : cli::renderStatus(report, render));
        return 0;
      }
      case cli::Command::History: {
        const json report = cli::historyReport(client->get(kube::resources::mediVoteServices(), ns, o.name),
                                               clock.wallNow());
        std::cout << (asJson ? cli::renderJson(report) : cli::renderHistory(report, render));
        return 0;
      }
      case cli::Command::Plan: {
        const cli::ResourceView live = view(*client, client->get(kube::resources::mediVoteServices(), ns, o.name));
        const json report = cli::planReport(live, o.change, clock.wallNow());
        std::cout << (asJson ? cli::renderJson(report) : cli::renderPlan(report, render));
        return 0;
      }
      case cli::Command::Help:
      case cli::Command::Version:
        break;
    }
  } catch (const kube::ApiError& e) {
    if (e.isNotFound() && !o.name.empty())
      throw std::runtime_error(fmt::format("medivoteservices.medivote.io \"{}\" not found in namespace \"{}\"",
                                           o.name, ns));
    if (e.isNotFound())
      throw std::runtime_error(fmt::format("the server does not serve medivoteservices.medivote.io (is the CRD "
                                           "installed?): {}",
                                           e.message()));
    throw std::runtime_error(fmt::format("the API server at {} answered {} {}: {}", connection.server, e.code(),
                                         kube::reasonName(e.reason()), e.message()));
  } catch (const kube::TransportError& e) {
    throw std::runtime_error(fmt::format("cannot reach the API server at {} ({}): {}", connection.server,
                                         kube::kindName(e.kind()), e.what()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  mv::kube::detachImplicitTrustRoots();  // before any thread: system CA roots loaded once, not per connection
  cli::Options o;
  try {
    o = cli::parseArgs(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const cli::UsageError& e) {
    std::cerr << "error: " << e.what() << "\nSee 'kubectl medivote --help' for usage.\n";
    return kExitUsage;
  }
  if (o.command == cli::Command::Help) {
    std::cout << cli::usage();
    return 0;
  }
  if (o.command == cli::Command::Version) {
    std::cout << "kubectl-medivote " << MEDIVOTE_VERSION << "\n";
    return 0;
  }
  try {
    return run(o);
  } catch (const cli::UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitError;
  }
}
