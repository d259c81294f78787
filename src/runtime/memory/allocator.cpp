#include "runtime/memory/allocator.h"

#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <malloc.h>

#include <cstddef>
#include <string>

namespace mv::runtime::memory {
namespace {

// jemalloc's control interface (its mallctl(3)); looked up rather than linked, so that this library builds and runs
// without jemalloc.
using Mallctl = int (*)(const char* name, void* oldp, std::size_t* oldlenp, void* newp, std::size_t newlen);

Mallctl mallctlFunction() {
  static const Mallctl f = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  return f;
}

}  // namespace

Allocator currentAllocator() { return mallctlFunction() ? Allocator::Jemalloc : Allocator::Glibc; }

std::string allocatorName() {
  if (const Mallctl mallctl = mallctlFunction()) {
    const char* version = nullptr;
    std::size_t size = sizeof(version);
    if (mallctl("version", &version, &size, nullptr, 0) == 0 && version) return std::string("jemalloc ") + version;
    return "jemalloc";
  }
  return std::string("glibc ") + gnu_get_libc_version();
}

void releaseFreePages() {
  if (const Mallctl mallctl = mallctlFunction()) {
    // "arena.<MALLCTL_ARENAS_ALL>.purge": every arena's unused dirty and muzzy pages back to the OS at once.
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
    return;
  }
  malloc_trim(0);
}

}  // namespace mv::runtime::memory
