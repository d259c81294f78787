#pragma once
// Which malloc the process runs on, and how to give its free pages back to the operating system.
//
// The operator's binary is linked with jemalloc (CMakeLists.txt, MEDIVOTE_JEMALLOC; configured in
// controller/allocator_config.cpp); unit tests, sanitizer builds and the other binaries run on glibc's malloc. The
// choice is found at run time (is jemalloc's mallctl in the process?), so a preloaded jemalloc counts too.
//
// Why jemalloc for the operator (bench/README.md, "Soak" and "Allocator"): with glibc's malloc the RSS of a long run
// rose in steps (pages of a burst kept resident by the live objects among them, even with malloc_trim every 60 s);
// jemalloc's size-class slabs and its decay of unused pages kept 1,000 create/scale/delete cycles flat (+0.22 KB per
// cycle against +1.05), the steady memory of a 10,000-pod cache lower (RssAnon 14.4 MB against 22.8 MB) and its sync
// cheaper (1.68 s of CPU against 2.10 s).
//
// Contract: currentAllocator() and allocatorName() never fail and may be called from any thread; releaseFreePages()
// returns the allocator's free pages to the OS (jemalloc: purges every arena; glibc: malloc_trim(0)), changes nothing
// the program can observe but its RSS, and may be called from any thread at any time.

#include <string>

namespace mv::runtime::memory {

enum class Allocator { Glibc, Jemalloc };

Allocator currentAllocator();
// "jemalloc <version>" or "glibc <version>": for the start-up log line.
std::string allocatorName();
void releaseFreePages();

}  // namespace mv::runtime::memory
