#pragma once
// The body of a streamed reply between cpprestsdk's I/O thread and the thread that reads it (Transport::stream), with
// back-pressure: at most `capacity` bytes wait unread, and cpprest reads nothing more from the socket until the reader
// has taken some.
//
// Why: cpprest writes a reply's body into the response stream as fast as the socket gives it. Its default stream
// (producer_consumer_buffer) grows without bound, so a large reply read slower than the network (a list at
// resourceVersion=0, tens of MB, parsed item by item) was all held in memory at once: the operator's peak grew by
// about the reply's size (bench/README.md, "Cache sync: the first list from the watch cache").
//
// Contract:
// - The writer side is cpprest's (set as the request's response stream): each write is copied in; a write that finds
//   the window full returns a task that completes once the reader has taken bytes (cpprest waits for it before reading
//   on). Only writing is supported; the read and seek functions of the streambuf interface report nothing to read.
// - finish(error) ends the body (after the last write; cpprest's content_ready): take() then returns what is left,
//   then false. A null error is a complete body; the error is available from error().
// - take() blocks until bytes, the end, or abandon(). It hands out everything waiting as one piece.
// - abandon() (the reader stops early: an error, a cancellation) completes any write that waits, and drops every
//   later one, so cpprest is never left waiting on the window. Thread-safe.

#include <cpprest/astreambuf.h>

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <string>

namespace mv::kube {

class BodyWindow : public concurrency::streams::details::streambuf_state_manager<uint8_t> {
 public:
  explicit BodyWindow(std::size_t capacity);

  bool take(std::string& piece);
  void finish(std::exception_ptr error);
  void abandon();
  std::exception_ptr error() const;

  // The streambuf interface (writer side only).
  bool can_seek() const override { return false; }
  bool has_size() const override { return false; }
  size_t buffer_size(std::ios_base::openmode) const override { return 0; }
  void set_buffer_size(size_t, std::ios_base::openmode) override {}
  size_t in_avail() const override { return 0; }
  pos_type getpos(std::ios_base::openmode) const override { return static_cast<pos_type>(traits::eof()); }
  pos_type seekpos(pos_type, std::ios_base::openmode) override { return static_cast<pos_type>(traits::eof()); }
  pos_type seekoff(off_type, std::ios_base::seekdir, std::ios_base::openmode) override {
    return static_cast<pos_type>(traits::eof());
  }
  bool acquire(uint8_t*& ptr, size_t& count) override {
    ptr = nullptr;
    count = 0;
    return false;
  }
  void release(uint8_t*, size_t) override {}

 protected:
  pplx::task<int_type> _putc(uint8_t ch) override;
  pplx::task<size_t> _putn(const uint8_t* ptr, size_t count) override;
  pplx::task<int_type> _bumpc() override { return pplx::task_from_result<int_type>(traits::eof()); }
  int_type _sbumpc() override { return traits::eof(); }
  pplx::task<int_type> _getc() override { return pplx::task_from_result<int_type>(traits::eof()); }
  int_type _sgetc() override { return traits::eof(); }
  pplx::task<int_type> _nextc() override { return pplx::task_from_result<int_type>(traits::eof()); }
  pplx::task<int_type> _ungetc() override { return pplx::task_from_result<int_type>(traits::eof()); }
  pplx::task<size_t> _getn(uint8_t*, size_t) override { return pplx::task_from_result<size_t>(0); }
  size_t _scopy(uint8_t*, size_t) override { return 0; }
  pplx::task<bool> _sync() override { return pplx::task_from_result(true); }
  uint8_t* _alloc(size_t) override { return nullptr; }
  void _commit(size_t) override {}

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable readable_;
  std::string waiting_;  // written, not yet taken
  bool ended_ = false;
  bool abandoned_ = false;
  std::exception_ptr error_;
  // A write that found the window full: completed with its size once the reader has taken bytes.
  std::optional<std::pair<pplx::task_completion_event<size_t>, size_t>> blocked_;
};

}  // namespace mv::kube
