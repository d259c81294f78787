#include <stdexcept>

#include "runtime/reconcile/reconciler.h"

namespace mv::runtime::reconcile {

std::string Request::key() const { return ns.empty() ? name : ns + "/" + name; }

Request Request::fromKey(std::string_view key, std::string reason) {
  const auto slash = key.find('/');
  Request r;
  if (slash == std::string_view::npos) {
    r.name = std::string(key);
  } else {
    if (key.find('/', slash + 1) != std::string_view::npos || slash == 0) {
      throw std::invalid_argument("invalid work-queue key \"" + std::string(key) + "\": want namespace/name or name");
    }
    r.ns = std::string(key.substr(0, slash));
    r.name = std::string(key.substr(slash + 1));
  }
  if (r.name.empty()) throw std::invalid_argument("invalid work-queue key \"" + std::string(key) + "\": empty name");
  r.reason = std::move(reason);
  return r;
}

}  // namespace mv::runtime::reconcile
