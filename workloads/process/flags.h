#pragma once
// Command-line flags of the reference workloads: "--name value" or "--name=value"; a bool flag is "--name",
// "--no-name" or "--name=true|false". "--help" prints the usage.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mv::workloads::process {

class Flags {
 public:
  explicit Flags(std::string program, std::string summary);

  void addString(std::string name, std::string* target, std::string help);
  void addInt(std::string name, int64_t* target, std::string help, int64_t min = 0);
  void addBool(std::string name, bool* target, std::string help);
  // A flag whose value is checked by `parse`, which returns an error message or "" when the value is good.
  void addCustom(std::string name, std::function<std::string(const std::string&)> parse, std::string help,
                 std::string placeholder);

  // Parses argv. Returns the exit code to leave with (0 after --help, 2 after an error, which is printed),
  // or nullopt to go on.
  std::optional<int> parse(int argc, char** argv);
  std::string usage() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string placeholder;  // empty for bools
    std::function<std::string(const std::string&)> set;
    std::string current;      // the default, for the usage text
  };
  const Flag* find(const std::string& name) const;

  std::string program_;
  std::string summary_;
  std::vector<Flag> flags_;
};

}  // namespace mv::workloads::process
