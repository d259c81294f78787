#include "runtime/informer/freshness_check.h"

namespace mv::runtime::informer {

std::string freshnessCheckName(const Informer& informer) { return "cache-fresh-" + informer.resource().resource; }

health::Check freshnessCheck(const Informer& informer) {
  return [&informer]() -> std::optional<std::string> {
    auto reason = informer.staleReason();
    if (!reason) return std::nullopt;
    return "the " + informer.resource().qualifiedName() + " cache is stale until its relist completes: " + *reason;
  };
}

}  // namespace mv::runtime::informer
