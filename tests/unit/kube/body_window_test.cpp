// BodyWindow: a streamed body between cpprest's writes and the reader, at most `capacity` bytes ahead of the reader.
#include "kube/body_window.h"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

using mv::kube::BodyWindow;

namespace {

pplx::task<size_t> write(BodyWindow& w, const std::string& bytes) {
  return w.putn_nocopy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// A completed task_completion_event runs its task's completion on the pool: observed within a bound, not at once.
bool completes(const pplx::task<size_t>& task) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!task.is_done() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  return task.is_done();
}

}  // namespace

TEST_CASE("a write within the window completes at once, and one past it waits until the reader takes bytes") {
  auto w = std::make_shared<BodyWindow>(8);
  auto first = write(*w, "abcd");
  CHECK(first.is_done());
  auto second = write(*w, "efghij");  // 10 bytes waiting: over the window
  CHECK_FALSE(second.is_done());
  std::string piece;
  REQUIRE(w->take(piece));
  CHECK(piece == "abcdefghij");  // everything waiting, as one piece
  CHECK(completes(second));
  CHECK(second.get() == 6);
}

TEST_CASE("finish ends the body after what is left, and its error is kept") {
  auto w = std::make_shared<BodyWindow>(64);
  write(*w, "tail");
  w->finish(nullptr);
  std::string piece;
  CHECK(w->take(piece));
  CHECK(piece == "tail");
  CHECK_FALSE(w->take(piece));
  CHECK_FALSE(w->error());

  auto failed = std::make_shared<BodyWindow>(64);
  failed->finish(std::make_exception_ptr(std::runtime_error("connection reset")));
  CHECK_FALSE(failed->take(piece));
  CHECK_THROWS_WITH(std::rethrow_exception(failed->error()), "connection reset");
}

TEST_CASE("abandon releases a waiting write and drops later ones, so the writer never hangs") {
  auto w = std::make_shared<BodyWindow>(4);
  auto blocked = write(*w, "0123456789");
  CHECK_FALSE(blocked.is_done());
  w->abandon();
  CHECK(completes(blocked));
  auto later = write(*w, "more");
  CHECK(later.is_done());
  std::string piece;
  CHECK_FALSE(w->take(piece));
}

TEST_CASE("a writer on another thread, waiting on each write as cpprest does, stays within the window") {
  constexpr std::size_t kCapacity = 256 << 10, kChunk = 64 << 10, kChunks = 160;  // 10 MiB
  auto w = std::make_shared<BodyWindow>(kCapacity);
  std::thread writer([&] {
    for (std::size_t i = 0; i < kChunks; ++i) write(*w, std::string(kChunk, static_cast<char>('a' + i % 26))).wait();
    w->finish(nullptr);
  });
  std::string piece, all;
  std::size_t largest = 0;
  while (w->take(piece)) {
    largest = std::max(largest, piece.size());
    all += piece;
  }
  writer.join();
  CHECK(all.size() == kChunk * kChunks);
  CHECK(largest <= kCapacity + kChunk);
  bool inOrder = true;
  for (std::size_t i = 0; i < kChunks; ++i) inOrder = inOrder && all[i * kChunk] == static_cast<char>('a' + i % 26);
  CHECK(inOrder);
}
