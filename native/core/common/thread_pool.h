// A small persistent thread pool shared by the pipelines (tokenization, bagging).
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace winnow {

// A small persistent pool: `extra` threads plus the caller. One job at a time; a caller that finds
// it busy (another call is running on this model) runs its job alone on its own thread instead.
class ThreadPool {
 public:
  explicit ThreadPool(int extra) : extra_(std::max(0, extra)) {}
  ~ThreadPool() { StopThreads(); }

  int size() const { return extra_ + 1; }

  // Starts the threads now (they start on the first TryRun otherwise): INTERNAL when the system cannot create
  // them (a process or user thread limit), with none left running.
  Status Start() {
    std::lock_guard<std::mutex> call(call_mu_);
    return StartThreads();
  }

  // Runs fn(w) for every w in [0, size()) (w = 0 on the calling thread). False when busy, or when the threads
  // cannot be started: the caller then runs the job alone.
  bool TryRun(const std::function<void(int)>& fn) {
    std::unique_lock<std::mutex> call(call_mu_, std::try_to_lock);
    if (!call.owns_lock()) return false;
    if (!StartThreads().ok()) return false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &fn;
      pending_ = extra_;
      ++generation_;
    }
    cv_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  // With call_mu_ held. A partial start is undone, so that a pool never waits for threads it does not have.
  Status StartThreads() {
    if (!threads_.empty() || extra_ == 0) return Status::Ok();
    try {
      threads_.reserve(extra_);
      const uint64_t now = generation_;  // jobs so far are not theirs
      for (int i = 0; i < extra_; ++i) threads_.emplace_back([this, i, now] { Loop(i + 1, now); });
    } catch (const std::exception& e) {
      StopThreads();
      return Status(codes::kInternal, "could not start " + std::to_string(extra_) + " threads (" + e.what() +
                                          "): lower the threads option, or raise the limit on threads per process");
    }
    return Status::Ok();
  }

  void StopThreads() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = false;
  }

  void Loop(int index, uint64_t seen) {
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      (*job)(index);
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (--pending_ == 0) done_cv_.notify_one();
      }
    }
  }

  const int extra_;
  std::mutex call_mu_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// Runs fn(begin, end) over [0, n) in chunks of `chunk`, spread over `pool` (or on the calling thread
// when the pool is null, has one thread, is busy with another call or cannot start its threads).
inline void ParallelFor(ThreadPool* pool, size_t n, size_t chunk, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  chunk = std::max<size_t>(chunk, 1);
  const size_t chunks = (n + chunk - 1) / chunk;
  std::atomic<size_t> next{0};
  auto work = [&](int) {
    for (size_t c; (c = next.fetch_add(1)) < chunks;) fn(c * chunk, std::min(n, (c + 1) * chunk));
  };
  const std::function<void(int)> job(work);
  if (!pool || pool->size() == 1 || chunks == 1 || !pool->TryRun(job)) work(0);
}

}  // namespace winnow
