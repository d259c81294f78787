#pragma once
// A fresh random identifier for one reconcile (a UUID v4 string), as controller-runtime puts in every log line of
// a reconcile so its lines can be found together.

#include <string>

namespace mv::runtime::controller {

std::string newReconcileId();

}  // namespace mv::runtime::controller
