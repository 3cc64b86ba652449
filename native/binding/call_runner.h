// Calls that share a model's batches (pipelines::SharedBatches) wait for one another, so each runs on a thread of
// its own rather than on libuv's small pool, which a waiting call would hold. One libuv worker per model (the
// runner) starts those threads, carries their progress and results to the main thread, and ends when none is left.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "napi_util.h"

namespace winnow::binding {

class CallRunner : public std::enable_shared_from_this<CallRunner> {
 public:
  using RunFn = std::function<Status(const pipelines::RunControl&)>;
  using ResultFn = std::function<Napi::Value(Napi::Env)>;

  // Main thread. Starts `run` on a thread of its own; the promise settles with result(env) or run's error. `opts`
  // may hold onProgress and cancelToken; `owner` is kept alive and counted in *inflight until the promise settles.
  Napi::Promise Start(Napi::Env env, RunFn run, ResultFn result, const Napi::Value& opts, const Napi::Object& owner,
                      std::atomic<int>* inflight);

  struct Event {
    uint64_t id = 0;
    size_t done = 0, total = 0;
    bool finished = false;
    Status status;
  };

 private:
  class Worker;
  struct Job {
    uint64_t id = 0;
    RunFn run;
    CancelFlag cancel;
    bool listening = false;
  };
  struct Call {  // main thread only
    Napi::Promise::Deferred deferred;
    Napi::FunctionReference progress_fn;
    Napi::ObjectReference owner;
    std::atomic<int>* inflight = nullptr;
    ResultFn result;
    CancelFlag cancel;
  };

  // Main thread (the runner's progress callbacks).
  void Deliver(Napi::Env env, const Event* events, size_t count);
  void CancelAll();
  // A call's body on whichever thread runs it: run, then its end reported through `send`.
  static void RunJob(Job& job, const std::function<void(const Event&)>& send);
  // The runner's libuv thread: runs `first`, then any job no thread could be started for, joins ended threads, and
  // returns when none is queued or running. `send` carries events to the main thread while it runs.
  void Serve(Job first, const std::function<void(const Event&)>& send);
  // A call's own thread: runs `first`, then further calls handed to it while it waits idle, then ends.
  void ThreadMain(uint64_t serial, const std::shared_ptr<Job>& first);

  std::unordered_map<uint64_t, Call> calls_;  // main thread only
  uint64_t next_id_ = 0;                      // main thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool active_ = false;  // a runner is serving: started threads are joined by it
  const std::function<void(const Event&)>* send_ = nullptr;  // the active runner's, while active_
  std::deque<Job> jobs_;      // for idle call threads
  std::deque<Job> fallback_;  // for the runner to run itself (no thread could be started)
  size_t idle_ = 0;           // call threads waiting for a job
  uint64_t next_thread_ = 0;
  std::unordered_map<uint64_t, std::thread> threads_;  // by serial
  std::vector<uint64_t> ended_;  // threads done, to be joined
};

}  // namespace winnow::binding
