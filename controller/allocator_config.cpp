// jemalloc's configuration for medivote-controller (linked only when CMake found jemalloc: MEDIVOTE_JEMALLOC). jemalloc
// reads this symbol before the first allocation; the MALLOC_CONF environment variable still overrides each option,
// so an operator can be tuned without a rebuild (e.g. MALLOC_CONF=dirty_decay_ms:10000).
//
// - narenas:1         one arena, as the glibc build's M_ARENA_MAX=1 (controller/main.cpp): the worker threads share
//                     freed memory instead of each keeping an arena's worth;
// - background_thread one jemalloc thread (signals blocked) returns unused pages as they decay, so an idle operator
//                     needs no allocation to shrink;
// - dirty_decay_ms:1000, muzzy_decay_ms:0
//                     freed pages go back to the OS about a second after their last use, in one step (MADV_DONTNEED),
//                     instead of jemalloc's default 10 s of dirty then 10 s of lazily-freed pages;
// - tcache:false      no per-thread caches. With a 10,000-pod cache (bench/README.md, "Allocator", 3 rounds): RssAnon
//                     14.4 MB against 18.2 MB with them (glibc: 22.8 MB), for 1.68 s of CPU to sync against 1.27 s
//                     (glibc: 2.10 s); medians of 3. Memory first; MALLOC_CONF=tcache:true buys the CPU back.
// Measured against glibc's malloc in bench/README.md ("Soak", "Allocator").
extern "C" {
// NOLINTNEXTLINE: jemalloc's documented configuration symbol (malloc_conf in jemalloc(3)).
const char* malloc_conf = "narenas:1,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,tcache:false";
}
