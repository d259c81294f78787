#include "runtime/health/checks.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "util/log.h"

namespace mv::runtime::health {
namespace {

// Runs a check, turning an exception into a failure.
std::optional<std::string> run(const Check& check) {
  try {
    return check();
  } catch (const std::exception& e) {
    return std::string("check threw: ") + e.what();
  } catch (...) {
    return std::string("check threw a non-standard exception");
  }
}

struct Query {
  bool verbose = false;
  std::multiset<std::string> exclude;
};

std::string percentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const std::string hex(s.substr(i + 1, 2));
      char* end = nullptr;
      const long v = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

Query parseQuery(std::string_view query) {
  Query q;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = part.find('=');
    const std::string key = percentDecode(part.substr(0, eq));
    const std::string value = eq == std::string_view::npos ? std::string() : percentDecode(part.substr(eq + 1));
    if (key == "verbose") q.verbose = true;
    if (key == "exclude") q.exclude.insert(value);
  }
  return q;
}

}  // namespace

void Checks::add(std::string name, Check check) {
  if (name.empty() || name.find('/') != std::string::npos) {
    throw std::invalid_argument("health check name \"" + name + "\" must be non-empty and without '/'");
  }
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& [n, c] : checks_) {
    if (n == name) throw std::invalid_argument("health check \"" + name + "\" added twice");
  }
  checks_.emplace_back(std::move(name), std::move(check));
}

std::vector<std::pair<std::string, Check>> Checks::snapshot() const {
  std::lock_guard<std::mutex> g(mu_);
  if (checks_.empty()) return {{"ping", [] { return std::optional<std::string>(); }}};
  return checks_;
}

Response Checks::answer(std::string_view subpath, std::string_view query) const {
  const auto checks = snapshot();
  if (!subpath.empty()) {
    for (const auto& [name, check] : checks) {
      if (name != subpath) continue;
      if (auto failure = run(check)) return {500, "internal server error: " + *failure + "\n"};
      return {200, "ok"};
    }
    return {404, "404 page not found\n"};
  }

  Query q = parseQuery(query);
  std::string lines;
  bool failed = false;
  for (const auto& [name, check] : checks) {
    if (const auto it = q.exclude.find(name); it != q.exclude.end()) {
      q.exclude.erase(name);
      lines += "[+]" + name + " excluded: ok\n";
      continue;
    }
    if (auto failure = run(check)) {
      log::info("health check failed", {{"checker", name}, {"error", *failure}});
      lines += "[-]" + name + " failed: reason withheld\n";
      failed = true;
    } else {
      lines += "[+]" + name + " ok\n";
    }
  }
  if (!q.exclude.empty()) {
    std::string names;
    for (const auto& n : std::set<std::string>(q.exclude.begin(), q.exclude.end())) {
      names += (names.empty() ? "\"" : ",\"") + n + "\"";
    }
    lines += "warn: some health checks cannot be excluded: no matches for " + names + "\n";
  }
  if (failed) return {500, lines + "healthz check failed\n"};
  if (!q.verbose) return {200, "ok"};
  return {200, lines + "healthz check passed\n"};
}

}  // namespace mv::runtime::health
