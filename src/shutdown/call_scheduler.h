#pragma once
// Which queued shutdown call goes next: the pure core of the runner's call pool (issue 15 item 2).
//
// Contract:
// - Fair across owners (MediVoteServices): owners take turns (round-robin in key order, starting after the owner
//   served last), so a resource with many queued calls never makes another's wait behind all of them.
// - Bounded per owner: an owner never has more than `perOwnerLimit` calls running, however many threads are free.
//   A resource whose endpoints never answer therefore holds at most that many threads for its request timeout, and
//   the others stay available to every other resource.
// - Urgent first: a call for a pod that is already being deleted (its preStop clock is running: deleted by someone
//   else, reason External) goes before every call that is not, still within its owner's limit and in turn among the
//   urgent owners. Within one owner and class, calls go in the order they were queued.
// - One entry per pod uid: pushing a uid that is queued already replaces nothing and returns false.
// Not thread-safe and does no I/O: the runner holds its own lock around every call.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace mv::shutdown {

class CallScheduler {
 public:
  struct Entry {
    std::string owner;
    std::string uid;
    bool urgent = false;
  };

  explicit CallScheduler(int perOwnerLimit);

  // Queues a call; false when `uid` is queued already.
  bool push(const std::string& owner, const std::string& uid, bool urgent);
  // The call that goes next, now counted as running for its owner (finished() ends that); nullopt when nothing is
  // queued or every owner with queued calls is at its limit.
  std::optional<Entry> next();
  // A call taken by next() ended (answered, or abandoned).
  void finished(const std::string& owner);
  // Takes a queued call out (its pod is gone or replaced); false when it is not queued.
  bool drop(const std::string& uid);
  // Takes every queued call out (leadership ended) and returns them; running calls stay counted until finished().
  std::deque<Entry> dropAll();

  std::size_t queued() const { return queued_; }
  // How many of the queued calls next() would hand out now (each owner's queued calls up to its free slots).
  std::size_t runnable() const;
  int running(const std::string& owner) const;
  int perOwnerLimit() const { return limit_; }

 private:
  struct Owner {
    std::deque<Entry> calls;  // oldest first
    int running = 0;
  };
  // The first owner after `last_` (wrapping) that is under its limit and has a queued call of the class wanted.
  std::map<std::string, Owner>::iterator pick(bool urgentOnly);
  void eraseIfIdle(std::map<std::string, Owner>::iterator it);

  int limit_;
  std::map<std::string, Owner> owners_;
  std::set<std::string> queuedUids_;
  std::string last_;  // the owner served last
  std::size_t queued_ = 0;
};

// How many calls one owner may have running at once when the pool has `maxCalls` threads: a quarter of them (at
// least one), so that a single slow resource leaves three quarters to the others.
int defaultPerOwnerCallLimit(int maxCalls);

}  // namespace mv::shutdown
