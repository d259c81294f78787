// medivote-controller: the MediVoteService operator. Flags and wiring only; the machinery lives in src/.
#include <cstring>
#include <iostream>
#include <string_view>

namespace {

constexpr std::string_view kUsage = R"(medivote-controller: runs MediVoteService resources and shuts their pods down by tier.

Usage: medivote-controller [flags]

Connection:
  --kubeconfig PATH        kubeconfig file (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)
  --context NAME           kubeconfig context to use instead of current-context
Other:
  --version                print the version and exit
  --help                   print this help and exit
)";

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--version") {
      std::cout << "medivote-controller " << MEDIVOTE_VERSION << "\n";
      return 0;
    }
  }
  std::cerr << "medivote-controller: the controller is not wired yet; see --help\n";
  return 2;
}
