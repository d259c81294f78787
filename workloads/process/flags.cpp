#include "process/flags.h"

#include <charconv>
#include <iostream>

namespace mv::workloads::process {

Flags::Flags(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}

void Flags::addString(std::string name, std::string* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), "STRING",
                    [target](const std::string& v) {
                      *target = v;
                      return std::string();
                    },
                    *target});
}

void Flags::addInt(std::string name, int64_t* target, std::string help, int64_t min) {
  const std::string flag = name;
  flags_.push_back({std::move(name), std::move(help), "N",
                    [target, min, flag](const std::string& v) {
                      int64_t n = 0;
                      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
                      if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
                        return "--" + flag + ": not an integer: " + v;
                      }
                      if (n < min) return "--" + flag + ": must be at least " + std::to_string(min);
                      *target = n;
                      return std::string();
                    },
                    std::to_string(*target)});
}

void Flags::addBool(std::string name, bool* target, std::string help) {
  const std::string flag = name;
  flags_.push_back({std::move(name), std::move(help), "",
                    [target, flag](const std::string& v) {
                      if (v == "true" || v == "1") {
                        *target = true;
                      } else if (v == "false" || v == "0") {
                        *target = false;
                      } else {
                        return "--" + flag + ": expected true or false, got " + v;
                      }
                      return std::string();
                    },
                    *target ? "true" : "false"});
}

void Flags::addCustom(std::string name, std::function<std::string(const std::string&)> parse, std::string help,
                      std::string placeholder) {
  flags_.push_back({std::move(name), std::move(help), std::move(placeholder), std::move(parse), ""});
}

const Flags::Flag* Flags::find(const std::string& name) const {
  for (const auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::optional<int> Flags::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage();
      return 0;
    }
    if (arg.rfind("--", 0) != 0) {
      std::cerr << program_ << ": unexpected argument: " << arg << "\n" << usage();
      return 2;
    }
    arg = arg.substr(2);
    std::optional<std::string> value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    const Flag* flag = find(arg);
    if (!flag && !value && arg.rfind("no-", 0) == 0) {
      flag = find(arg.substr(3));
      if (flag && flag->placeholder.empty()) value = "false";
      else flag = nullptr;
    }
    if (!flag) {
      std::cerr << program_ << ": unknown flag --" << arg << "\n" << usage();
      return 2;
    }
    if (!value) {
      if (flag->placeholder.empty()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        std::cerr << program_ << ": --" << arg << " needs a value\n";
        return 2;
      }
    }
    if (const auto err = flag->set(*value); !err.empty()) {
      std::cerr << program_ << ": " << err << "\n";
      return 2;
    }
  }
  return std::nullopt;
}

std::string Flags::usage() const {
  std::string out = "usage: " + program_ + " [flags]\n" + summary_ + "\n\nflags:\n";
  for (const auto& f : flags_) {
    std::string head = "  --" + f.name + (f.placeholder.empty() ? "" : " " + f.placeholder);
    out += head + "\n      " + f.help;
    if (!f.current.empty()) out += " (default " + f.current + ")";
    out += "\n";
  }
  return out;
}

}  // namespace mv::workloads::process
