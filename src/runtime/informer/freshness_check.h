#pragma once
// The readiness check of an informer's cache: it fails while the cache is known to be stale, from the moment the
// reflector detected that the API server's history went backwards until the relist that follows has completed
// (Informer::staleReason). An operator whose caches serve a past that the server no longer has must not report
// ready: its decisions would be made on objects the server forgot, and on none of the ones it has since.
//
// Contract: the check is quick (a mutex-guarded read) and holds a reference: the informer must outlive it.

#include <string>

#include "runtime/health/checks.h"
#include "runtime/informer/informer.h"

namespace mv::runtime::informer {

// The check's name for `informer`: "cache-fresh-<resource>" (a readiness check name has no '/').
std::string freshnessCheckName(const Informer& informer);

// Passes unless the informer's cache is known to be stale; the reason names the resource and the detection.
health::Check freshnessCheck(const Informer& informer);

}  // namespace mv::runtime::informer
