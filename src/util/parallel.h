#pragma once
// Bounded fan-out of independent work items.

#include <cstddef>
#include <functional>

namespace mv::util {

// Calls fn(0) ... fn(n - 1), at most `parallelism` at a time: on the calling thread and on up to parallelism - 1
// threads started for this call (none when n <= 1 or parallelism <= 1), each taking the next index until none is
// left. Returns once every call has returned. When calls throw, the others still run; the first exception thrown is
// rethrown after all have finished, the later ones are dropped. fn must be safe to call concurrently.
void forEachParallel(std::size_t n, std::size_t parallelism, const std::function<void(std::size_t)>& fn);

}  // namespace mv::util
