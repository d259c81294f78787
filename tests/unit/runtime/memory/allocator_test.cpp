#include "runtime/memory/allocator.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

using mv::runtime::memory::Allocator;
using mv::runtime::memory::allocatorName;
using mv::runtime::memory::currentAllocator;
using mv::runtime::memory::releaseFreePages;

// The unit tests are not linked with jemalloc (only medivote-controller is: CMakeLists.txt); the operator's own
// allocator is checked end to end (tests/e2e/test_runtime.py).
TEST_CASE("without jemalloc in the process the allocator is glibc's, named with its version") {
  if (std::getenv("LD_PRELOAD")) return;  // a preloaded jemalloc would count (the lookup is at run time)
  CHECK(currentAllocator() == Allocator::Glibc);
  CHECK(allocatorName().rfind("glibc 2.", 0) == 0);
}

#if !defined(__SANITIZE_ADDRESS__)  // AddressSanitizer owns malloc: glibc's malloc_trim has nothing to release there
namespace {

long residentKb() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace

TEST_CASE("releasing free pages gives back freed memory that lies between live allocations") {
  if (currentAllocator() != Allocator::Glibc) return;
  // 24 MB in 3 KB blocks (under glibc's mmap threshold: all in the heap), touched, then all freed but every 64th:
  // the live ones keep the free space from reaching the top of the heap, so free() alone returns none of it.
  constexpr std::size_t kBlock = 3 * 1024, kBlocks = 8192;
  std::vector<char*> blocks;
  blocks.reserve(kBlocks);
  for (std::size_t i = 0; i < kBlocks; ++i) {
    blocks.push_back(static_cast<char*>(std::malloc(kBlock)));
    std::memset(blocks.back(), 1, kBlock);
  }
  for (std::size_t i = 0; i < kBlocks; ++i) {
    if (i % 64 != 63) {
      std::free(blocks[i]);
      blocks[i] = nullptr;
    }
  }
  const long before = residentKb();
  releaseFreePages();
  const long after = residentKb();
  for (char* b : blocks) std::free(b);
  INFO("resident before " << before << " kB, after " << after << " kB");
  CHECK(before - after >= 12 * 1024);  // most of the ~23.6 MB freed (each 192 KB span keeps one live page or two)
}
#endif
