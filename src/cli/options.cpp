#include "cli/options.h"

#include <charconv>
#include <map>

#include <fmt/format.h>

namespace mv::cli {
namespace {

// The flags that take a value, by every spelling, and the canonical long name used in messages.
const std::map<std::string, std::string>& valueFlags() {
  static const std::map<std::string, std::string> flags = {
      {"--kubeconfig", "--kubeconfig"}, {"--context", "--context"},     {"-n", "--namespace"},
      {"--namespace", "--namespace"},   {"-o", "--output"},             {"--output", "--output"},
      {"--color", "--color"},           {"--replicas", "--replicas"},   {"--image", "--image"},
      {"--container", "--container"},
  };
  return flags;
}

int parseReplicas(const std::string& v) {
  int n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 0)
    throw UsageError(fmt::format("invalid value \"{}\" for --replicas: a whole number, 0 or more", v));
  return n;
}

Command parseCommand(const std::string& word) {
  if (word == "status") return Command::Status;
  if (word == "history") return Command::History;
  if (word == "plan") return Command::Plan;
  if (word == "help") return Command::Help;
  if (word == "version") return Command::Version;
  throw UsageError(fmt::format("unknown command \"{}\" for \"kubectl medivote\": use status, history or plan", word));
}

void setValue(Options& o, const std::string& flag, const std::string& v) {
  if (v.empty() && flag != "--container") throw UsageError(fmt::format("flag {} needs a non-empty value", flag));
  if (flag == "--kubeconfig") o.kubeconfig = v;
  else if (flag == "--context") o.context = v;
  else if (flag == "--namespace") o.ns = v;
  else if (flag == "--output") {
    if (v == "json") o.output = Output::Json;
    else if (v == "table" || v == "wide") o.output = Output::Table;
    else throw UsageError(fmt::format("unsupported output format \"{}\": use json or table", v));
  } else if (flag == "--color") {
    if (v == "auto") o.color = ColorMode::Auto;
    else if (v == "always") o.color = ColorMode::Always;
    else if (v == "never") o.color = ColorMode::Never;
    else throw UsageError(fmt::format("invalid value \"{}\" for --color: use auto, always or never", v));
  } else if (flag == "--replicas") o.change.replicas = parseReplicas(v);
  else if (flag == "--image") o.change.image = v;
  else if (flag == "--container") {
    if (v.empty()) throw UsageError("flag --container needs a non-empty value");
    o.change.container = v;
  }
}

// The checks that need the whole line: which flags go with which command, and the positional arguments.
void validate(Options& o, const std::vector<std::string>& positional, bool help) {
  if (help || positional.empty()) {
    o.command = Command::Help;
    if (!help) throw UsageError("a command is required: status, history or plan");
    return;
  }
  o.command = parseCommand(positional[0]);
  const std::vector<std::string> rest(positional.begin() + 1, positional.end());
  const bool planFlags = o.change.replicas || o.change.image || o.change.remove || !o.change.container.empty();
  if (o.command != Command::Plan && planFlags)
    throw UsageError("--replicas, --image, --container and --delete apply to \"plan\" only");
  if (o.allNamespaces && o.command != Command::Status) throw UsageError("--all-namespaces applies to \"status\" only");
  switch (o.command) {
    case Command::Help:
    case Command::Version:
      if (!rest.empty()) throw UsageError(fmt::format("unexpected argument \"{}\"", rest[0]));
      return;
    case Command::Status:
      if (rest.size() > 1) throw UsageError(fmt::format("unexpected argument \"{}\": status takes at most one NAME", rest[1]));
      if (!rest.empty() && o.allNamespaces)
        throw UsageError("a resource cannot be retrieved by name across all namespaces (drop NAME or -A)");
      break;
    case Command::History:
    case Command::Plan:
      if (rest.empty()) throw UsageError(fmt::format("{} needs the NAME of a MediVoteService", positional[0]));
      if (rest.size() > 1) throw UsageError(fmt::format("unexpected argument \"{}\": {} takes one NAME", rest[1],
                                                        positional[0]));
      break;
  }
  if (!rest.empty()) {
    o.name = rest[0];
    // kubectl's TYPE/NAME form, for this one type.
    for (const std::string prefix : {"mvs/", "medivoteservice/", "medivoteservices/", "medivoteservice.medivote.io/",
                                     "medivoteservices.medivote.io/"})
      if (o.name.rfind(prefix, 0) == 0) o.name = o.name.substr(prefix.size());
    if (o.name.empty() || o.name.find('/') != std::string::npos)
      throw UsageError(fmt::format("invalid resource name \"{}\": give the name of a MediVoteService", rest[0]));
  }
  if (o.command == Command::Plan) {
    const int chosen = (o.change.replicas ? 1 : 0) + (o.change.image ? 1 : 0) + (o.change.remove ? 1 : 0);
    if (chosen != 1) throw UsageError("plan needs exactly one change: --replicas N, --image IMAGE or --delete");
    if (!o.change.container.empty() && !o.change.image) throw UsageError("--container goes with --image");
  }
}

}  // namespace

Options parseArgs(const std::vector<std::string>& args) {
  Options o;
  std::vector<std::string> positional;
  bool help = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    if (a == "-h" || a == "--help") {
      help = true;
      continue;
    }
    if (a == "-A" || a == "--all-namespaces") {
      o.allNamespaces = true;
      continue;
    }
    if (a == "--delete") {
      o.change.remove = true;
      continue;
    }
    std::string flag = a;
    std::optional<std::string> value;
    if (a.rfind("--", 0) == 0) {
      if (const auto eq = a.find('='); eq != std::string::npos) {
        flag = a.substr(0, eq);
        value = a.substr(eq + 1);
      }
    } else if (a.size() > 2) {  // -nNS, -ojson, -n=NS
      flag = a.substr(0, 2);
      value = a.substr(a[2] == '=' ? 3 : 2);
    }
    const auto it = valueFlags().find(flag);
    if (it == valueFlags().end()) {
      if (flag == "--all-namespaces" || flag == "--delete" || flag == "--help")
        throw UsageError(fmt::format("flag {} takes no value", flag));
      throw UsageError(fmt::format("unknown flag: {}", flag));
    }
    if (!value) {
      if (i + 1 >= args.size()) throw UsageError(fmt::format("flag needs an argument: {}", a));
      value = args[++i];
    }
    setValue(o, it->second, *value);
  }
  validate(o, positional, help);
  return o;
}

std::string usage() {
  return R"(kubectl medivote: the tiered shutdowns of MediVoteServices at a glance.

Usage:
  kubectl medivote status [NAME] [-A]        each resource and its pods: tier, shutdown stage, time in stage,
                                             attempts, last answer, the next deadline and what happens then
  kubectl medivote history NAME              status.shutdowns: each shutdown, its stages, outcome and duration
  kubectl medivote plan NAME --replicas N    dry run of a change by the operator's own planner: which pods would
  kubectl medivote plan NAME --image IMAGE [--container C]
  kubectl medivote plan NAME --delete        go, in which order, by which path, and the longest it may take.
                                             It writes nothing.

Flags (as kubectl's):
  --kubeconfig FILE       the kubeconfig (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)
  --context NAME          the kubeconfig context
  -n, --namespace NS      the namespace (default: the context's)
  -A, --all-namespaces    status: every namespace
  -o, --output FORMAT     table (default) or json
  --color WHEN            auto (default: on a terminal unless NO_COLOR is set), always, never
  -h, --help              this help

Exit status: 0 done, 1 an error (not found, server unreachable or refusing, bad kubeconfig), 2 bad usage.
)";
}

bool useColor(ColorMode mode, bool stdoutIsTerminal, const char* noColorEnv) {
  switch (mode) {
    case ColorMode::Always: return true;
    case ColorMode::Never: return false;
    case ColorMode::Auto: return stdoutIsTerminal && (noColorEnv == nullptr || noColorEnv[0] == '\0');
  }
  return false;
}

}  // namespace mv::cli
