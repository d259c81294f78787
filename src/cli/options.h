#pragma once
// The command line of the kubectl plugin `kubectl-medivote` (kubectl runs it for `kubectl medivote ...`, passing the
// arguments after `medivote` unchanged). Pure: no I/O.
//
//   kubectl medivote status [NAME] [-A]
//   kubectl medivote history NAME
//   kubectl medivote plan NAME (--replicas N | --image IMAGE [--container C] | --delete)
//   flags as kubectl's, anywhere on the line: --kubeconfig FILE, --context NAME, -n/--namespace NS, -o/--output
//   json|table, --color auto|always|never, -h/--help; `--flag=value`, `--flag value`, `-nNS`, `-ojson`; `--` ends
//   the flags.
//
// Every bad input is a UsageError whose message says what is wrong in one sentence.

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mv::cli {

class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class Command { Help, Version, Status, History, Plan };
enum class Output { Table, Json };
enum class ColorMode { Auto, Always, Never };

// The change `plan` previews; exactly one of replicas, image, remove.
struct PlanChange {
  std::optional<int> replicas;
  std::optional<std::string> image;
  std::string container;  // with image: the container to change ("" = the service container)
  bool remove = false;    // --delete: the resource is deleted
};

struct Options {
  Command command = Command::Help;
  std::string name;  // the MediVoteService ("" = all in the namespace, status only)
  std::optional<std::string> kubeconfig;
  std::optional<std::string> context;
  std::optional<std::string> ns;  // "" never: nullopt = the context's namespace
  bool allNamespaces = false;
  Output output = Output::Table;
  ColorMode color = ColorMode::Auto;
  PlanChange change;
};

// Parses the arguments after the program name. Throws UsageError.
Options parseArgs(const std::vector<std::string>& args);

// The help text.
std::string usage();

// Colours on: Always; Auto when stdout is a terminal and NO_COLOR is unset or empty (no-color.org).
bool useColor(ColorMode mode, bool stdoutIsTerminal, const char* noColorEnv);

}  // namespace mv::cli
