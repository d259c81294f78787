#include "cli/options.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace mv::cli;

namespace {

Options parse(std::vector<std::string> args) { return parseArgs(args); }

std::string refusal(std::vector<std::string> args) {
  try {
    parseArgs(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("status takes an optional name and the kubectl connection flags in any position") {
  Options o = parse({"status"});
  CHECK(o.command == Command::Status);
  CHECK(o.name.empty());
  CHECK_FALSE(o.ns);
  CHECK(o.output == Output::Table);

  o = parse({"--kubeconfig", "/tmp/k", "status", "vote", "-n", "medivote", "--context=admin", "-ojson"});
  CHECK(o.command == Command::Status);
  CHECK(o.name == "vote");
  CHECK(*o.kubeconfig == "/tmp/k");
  CHECK(*o.context == "admin");
  CHECK(*o.ns == "medivote");
  CHECK(o.output == Output::Json);

  o = parse({"status", "--namespace=x", "-o", "table"});
  CHECK(*o.ns == "x");
  CHECK(o.output == Output::Table);
  CHECK(*parse({"status", "-nshort"}).ns == "short");
  CHECK(parse({"status", "-A"}).allNamespaces);
  CHECK(parse({"status", "--all-namespaces"}).allNamespaces);
}

TEST_CASE("a resource may be named as kubectl's TYPE/NAME") {
  CHECK(parse({"history", "mvs/vote"}).name == "vote");
  CHECK(parse({"history", "medivoteservices.medivote.io/vote"}).name == "vote");
  CHECK(refusal({"history", "pods/vote"}).find("invalid resource name") != std::string::npos);
}

TEST_CASE("plan needs exactly one change") {
  Options o = parse({"plan", "vote", "--replicas", "1"});
  CHECK(o.command == Command::Plan);
  CHECK(*o.change.replicas == 1);
  o = parse({"plan", "vote", "--replicas=0"});
  CHECK(*o.change.replicas == 0);
  o = parse({"plan", "vote", "--image", "medivote/vote:2", "--container", "app"});
  CHECK(*o.change.image == "medivote/vote:2");
  CHECK(o.change.container == "app");
  CHECK(parse({"plan", "--delete", "vote"}).change.remove);

  CHECK(refusal({"plan", "vote"}).find("exactly one change") != std::string::npos);
  CHECK(refusal({"plan", "vote", "--replicas", "1", "--delete"}).find("exactly one change") != std::string::npos);
  CHECK(refusal({"plan", "--replicas", "1"}).find("needs the NAME") != std::string::npos);
  CHECK(refusal({"plan", "vote", "--replicas", "1", "--container", "app"}).find("goes with --image") !=
        std::string::npos);
}

TEST_CASE("bad replica counts are refused with the value") {
  for (const std::string bad : {"-1", "abc", "1.5", "", "99999999999", "3x"})
    CHECK_MESSAGE(refusal({"plan", "vote", "--replicas=" + bad}).find("--replicas") != std::string::npos, bad);
  CHECK(refusal({"plan", "vote", "--replicas", "-1"}).find("\"-1\"") != std::string::npos);
}

TEST_CASE("every bad command line is a usage error that says what is wrong") {
  CHECK(refusal({}).find("a command is required") != std::string::npos);
  CHECK(refusal({"stats"}).find("unknown command \"stats\"") != std::string::npos);
  CHECK(refusal({"status", "--bogus"}).find("unknown flag: --bogus") != std::string::npos);
  CHECK(refusal({"status", "-x"}).find("unknown flag: -x") != std::string::npos);
  CHECK(refusal({"status", "-n"}).find("flag needs an argument: -n") != std::string::npos);
  CHECK(refusal({"status", "--kubeconfig"}).find("flag needs an argument") != std::string::npos);
  CHECK(refusal({"status", "--namespace="}).find("non-empty value") != std::string::npos);
  CHECK(refusal({"status", "-o", "yaml"}).find("unsupported output format \"yaml\"") != std::string::npos);
  CHECK(refusal({"status", "a", "b"}).find("unexpected argument \"b\"") != std::string::npos);
  CHECK(refusal({"status", "vote", "-A"}).find("all namespaces") != std::string::npos);
  CHECK(refusal({"history"}).find("needs the NAME") != std::string::npos);
  CHECK(refusal({"history", "vote", "-A"}).find("\"status\" only") != std::string::npos);
  CHECK(refusal({"status", "--replicas", "2"}).find("\"plan\" only") != std::string::npos);
  CHECK(refusal({"status", "--color", "sometimes"}).find("--color") != std::string::npos);
  CHECK(refusal({"status", "--delete=yes"}).find("takes no value") != std::string::npos);
}

TEST_CASE("help anywhere wins over the rest and -- ends the flags") {
  CHECK(parse({"--help"}).command == Command::Help);
  CHECK(parse({"status", "-h"}).command == Command::Help);
  CHECK(parse({"help"}).command == Command::Help);
  CHECK(parse({"history", "--", "-odd"}).name == "-odd");
  CHECK(usage().find("kubectl medivote plan NAME --replicas N") != std::string::npos);
}

TEST_CASE("colours only on a terminal without NO_COLOR unless asked for") {
  CHECK(useColor(ColorMode::Auto, true, nullptr));
  CHECK(useColor(ColorMode::Auto, true, ""));
  CHECK_FALSE(useColor(ColorMode::Auto, false, nullptr));
  CHECK_FALSE(useColor(ColorMode::Auto, true, "1"));
  CHECK(useColor(ColorMode::Always, false, "1"));
  CHECK_FALSE(useColor(ColorMode::Never, true, nullptr));
  CHECK(parse({"status", "--color=always"}).color == ColorMode::Always);
  CHECK(parse({"status", "--color", "never"}).color == ColorMode::Never);
}
