#include "call_runner.h"

#include <chrono>
#include <iterator>
#include <system_error>
#include <thread>

namespace winnow::binding {

namespace {

// Without an onProgress callback a call still reports now and then, so that a torn-down environment is noticed
// (in Deliver) and the call stopped at its next cancellation point.
constexpr auto kHeartbeat = std::chrono::milliseconds(20);
// How long a call's thread waits for another call before it ends.
constexpr auto kIdle = std::chrono::milliseconds(200);

}  // namespace

class CallRunner::Worker : public Napi::AsyncProgressQueueWorker<CallRunner::Event> {
 public:
  Worker(Napi::Env env, std::shared_ptr<CallRunner> runner, Job first)
      : Napi::AsyncProgressQueueWorker<Event>(env), runner_(std::move(runner)), first_(std::move(first)) {}

 private:
  void Execute(const ExecutionProgress& progress) override {
    runner_->Serve(std::move(first_), [&progress](const Event& e) { progress.Send(&e, 1); });
  }
  void OnProgress(const Event* events, size_t count) override { runner_->Deliver(Env(), events, count); }
  void OnOK() override {}
  void OnError(const Napi::Error&) override {}

  std::shared_ptr<CallRunner> runner_;
  Job first_;
};

Napi::Promise CallRunner::Start(Napi::Env env, RunFn run, ResultFn result, const Napi::Value& opts,
                                const Napi::Object& owner, std::atomic<int>* inflight) {
  const uint64_t id = ++next_id_;
  Call call{Napi::Promise::Deferred::New(env), {}, Napi::Persistent(owner), inflight, std::move(result),
            std::make_shared<std::atomic<bool>>(false)};
  if (opts.IsObject()) {
    Napi::Object o = opts.As<Napi::Object>();
    Napi::Value fn = o.Get("onProgress");
    if (fn.IsFunction()) call.progress_fn = Napi::Persistent(fn.As<Napi::Function>());
    if (CancelFlag flag = GetCancelFlag(o.Get("cancelToken"))) call.cancel = std::move(flag);
  }
  Napi::Promise promise = call.deferred.Promise();
  Job job{id, std::move(run), call.cancel, !call.progress_fn.IsEmpty()};
  inflight->fetch_add(1);
  calls_.emplace(id, std::move(call));
  try {
    std::unique_lock<std::mutex> lk(mu_);
    if (!active_) {
      // No call is running: this one runs on the runner's own (libuv) thread, as a call without batching across
      // calls would. active_ is set only once the runner exists (making it may throw).
      lk.unlock();
      auto* w = new Worker(env, shared_from_this(), std::move(job));
      lk.lock();
      active_ = true;
      lk.unlock();
      w->Queue();
      return promise;
    }
    // Others are running: this call runs on a thread of its own, so that it can wait for their shared batches: an
    // idle one left by an earlier call if there is one, else a new one.
    if (idle_ > jobs_.size()) {
      jobs_.push_back(std::move(job));
      cv_.notify_all();
      return promise;
    }
    auto first = std::make_shared<Job>(std::move(job));
    const uint64_t serial = ++next_thread_;
    try {
      threads_.emplace(serial, std::thread([self = shared_from_this(), serial, first] { self->ThreadMain(serial, first); }));
    } catch (const std::system_error&) {
      fallback_.push_back(std::move(*first));  // no thread to spare (a thread limit): the runner runs it itself
      cv_.notify_all();
    }
  } catch (...) {
    calls_.erase(id);
    inflight->fetch_sub(1);
    throw;
  }
  return promise;
}

void CallRunner::ThreadMain(uint64_t serial, const std::shared_ptr<Job>& first) {
  try {
    const std::function<void(const Event&)>* send;
    {
      std::unique_lock<std::mutex> lk(mu_);  // the runner may not have started yet
      cv_.wait(lk, [&] { return send_ != nullptr; });
      send = send_;
    }
    Job job = std::move(*first);
    for (;;) {
      RunJob(job, *send);
      // Stay a moment for the next call: a thread made per call would cost every call a cold start.
      std::unique_lock<std::mutex> lk(mu_);
      ++idle_;
      // A system-clock deadline, as in SharedBatches::Run (steady-clock waits need glibc 2.34).
      cv_.wait_until(lk, std::chrono::system_clock::now() + kIdle, [&] { return !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) break;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
  } catch (...) {
    // RunJob turns a call's exceptions into its status; what could still throw is sending its events, and then
    // nothing is left to tell.
  }
  std::lock_guard<std::mutex> lk(mu_);
  ended_.push_back(serial);
  cv_.notify_all();
}

void CallRunner::RunJob(Job& job, const std::function<void(const Event&)>& send) {
  pipelines::RunControl control;
  control.cancel = job.cancel.get();
  std::atomic<int64_t> last_sent{0};
  control.progress = [&](size_t done, size_t total) {
    if (!job.listening) {
      const int64_t now = std::chrono::steady_clock::now().time_since_epoch() / kHeartbeat;
      if (last_sent.exchange(now) == now) return;
    }
    send(Event{job.id, done, total, false, Status()});
  };
  Status status;
  try {
    status = job.run(control);
  } catch (const std::bad_alloc&) {
    status = Status(codes::kInternal, "out of memory");
  } catch (const std::exception& e) {
    status = Status(codes::kInternal, e.what());
  }
  // What the call holds (the model among it) is let go before its promise settles: a dispose() right after must
  // free the model.
  job.run = nullptr;
  send(Event{job.id, 0, 0, true, std::move(status)});
}

void CallRunner::Serve(Job first, const std::function<void(const Event&)>& send) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    send_ = &send;
  }
  cv_.notify_all();
  // RunJob turns a call's exceptions into its status; only sending its events could throw, and then nothing is left
  // to tell: the runner must still wait for the call threads, which use `send`.
  auto run_here = [&send](Job& job) {
    try {
      RunJob(job, send);
    } catch (...) {
    }
  };
  run_here(first);
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    while (!ended_.empty()) {
      const uint64_t id = ended_.back();
      ended_.pop_back();
      auto it = threads_.find(id);
      if (it == threads_.end()) continue;
      std::thread t = std::move(it->second);
      threads_.erase(it);
      lk.unlock();
      t.join();
      lk.lock();
    }
    if (!fallback_.empty()) {
      Job job = std::move(fallback_.front());
      fallback_.pop_front();
      lk.unlock();
      run_here(job);
      lk.lock();
      continue;
    }
    if (threads_.empty() && !jobs_.empty()) {  // no thread left to take them
      std::move(jobs_.begin(), jobs_.end(), std::back_inserter(fallback_));
      jobs_.clear();
      continue;
    }
    if (threads_.empty()) {
      active_ = false;
      send_ = nullptr;
      return;
    }
    cv_.wait(lk);
  }
}

void CallRunner::CancelAll() {
  for (auto& [id, call] : calls_) call.cancel->store(true);
}

void CallRunner::Deliver(Napi::Env env, const Event* events, size_t count) {
  if (!CanRunJs(env)) {
    CancelAll();  // the environment is going away: nobody will read the results
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    const Event& e = events[i];
    auto it = calls_.find(e.id);
    if (it == calls_.end()) continue;
    Call& call = it->second;
    Napi::HandleScope scope(env);
    if (!e.finished) {
      if (call.progress_fn.IsEmpty()) continue;
      try {
        Napi::Object info = Napi::Object::New(env);
        info.Set("done", Napi::Number::New(env, static_cast<double>(e.done)));
        info.Set("total", Napi::Number::New(env, static_cast<double>(e.total)));
        call.progress_fn.Call({info});
      } catch (const Napi::Error&) {
        // A throwing progress callback must not break the call.
      }
      continue;
    }
    Call done = std::move(call);
    calls_.erase(it);
    done.inflight->fetch_sub(1);
    done.owner.Reset();
    SettleDeferred(env, done.deferred, e.status, done.result);
  }
}

}  // namespace winnow::binding
