// The only layer that sees V8 types: conversions on the main thread, a promise worker whose
// Execute() never touches Napi values, and Status -> JS error conversion with a stable `code`.
#pragma once

#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipelines/transformer_model.h"

namespace winnow::binding {

// Error class by meaning: RangeError for values out of range, Error for everything else.
Napi::Error StatusToError(Napi::Env env, const Status& status);
[[noreturn]] void ThrowStatus(Napi::Env env, const Status& status);

// Runs a synchronous native entry point (anything JavaScript calls, and OnOK's Result): a C++ exception other than
// Napi::Error (std::bad_alloc, std::length_error, ...) becomes a JS error with code INTERNAL instead of escaping
// into node-addon-api, which only converts Napi::Error and would end the process.
template <class Fn>
auto GuardSync(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw StatusToError(env, Status(codes::kInternal, "out of memory"));
  } catch (const std::exception& e) {
    throw StatusToError(env, Status(codes::kInternal, e.what()));
  }
}

// A plain function (or static method) F, guarded: register Guarded<&F> instead of &F.
template <auto F>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  return GuardSync(info.Env(), [&] { return F(info); });
}

// Option readers: the TypeScript layer validated types already; these still refuse wrong types
// with a TypeError instead of crashing.
std::string GetString(const Napi::Object& o, const char* key, const std::string& fallback = "");
double GetNumber(const Napi::Object& o, const char* key, double fallback);
bool GetBool(const Napi::Object& o, const char* key, bool fallback);
std::vector<std::string> GetStringArray(Napi::Env env, const Napi::Value& v, const char* what);
void ReadModelOptions(const Napi::Object& o, pipelines::ModelOptions* out);

// Cancellation tokens shared between JS (abort) and a running worker.
using CancelFlag = std::shared_ptr<std::atomic<bool>>;
CancelFlag GetCancelFlag(const Napi::Value& v);  // from a token made by newCancelToken(), or null

// False once the environment is being torn down (a terminated worker thread, process exit): napi calls that may
// run JavaScript then fail, and node-addon-api would throw them as Napi::Error out of a callback (an abort).
bool CanRunJs(napi_env env);

// Main thread: rejects `deferred` with `status`'s error, or resolves it with result(env) (an exception it throws
// rejects it instead); nothing once the environment is torn down.
void SettleDeferred(Napi::Env env, Napi::Promise::Deferred& deferred, const Status& status,
                    const std::function<Napi::Value(Napi::Env)>& result);

struct ProgressEvent {
  size_t done, total;
};

// Base of every asynchronous call: Run() on a worker thread, Result() on the main thread. When the environment
// is torn down first (worker.terminate(), process.exit() in a worker), progress and the result are dropped and the
// run is cancelled at its next progress report.
class PromiseWorker : public Napi::AsyncProgressQueueWorker<ProgressEvent> {
 public:
  explicit PromiseWorker(Napi::Env env);
  Napi::Promise Promise() { return deferred_.Promise(); }
  void SetProgressCallback(const Napi::Value& fn);
  // The caller's cancel token (newCancelToken()); without one the worker has its own, so that a torn-down
  // environment can still stop the run.
  void SetCancelFlag(CancelFlag flag);
  // Kept alive (and counted as busy) until the promise settles.
  void HoldOwner(const Napi::Object& owner, std::atomic<int>* inflight);

 protected:
  virtual Status Run(const pipelines::RunControl& control) = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  void Execute(const ExecutionProgress& progress) override;
  void OnProgress(const ProgressEvent* data, size_t count) override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;
  void Release();

  Status status_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference progress_fn_;
  Napi::ObjectReference owner_;
  std::atomic<int>* inflight_ = nullptr;
  CancelFlag cancel_;
};

// A worker built from two lambdas, for one-off async calls.
template <class RunFn, class ResultFn>
class LambdaWorker : public PromiseWorker {
 public:
  LambdaWorker(Napi::Env env, RunFn run, ResultFn result) : PromiseWorker(env), run_(std::move(run)), result_(std::move(result)) {}

 protected:
  Status Run(const pipelines::RunControl& control) override { return run_(control); }
  Napi::Value Result(Napi::Env env) override { return result_(env); }

 private:
  RunFn run_;
  ResultFn result_;
};

template <class RunFn, class ResultFn>
LambdaWorker<RunFn, ResultFn>* MakeWorker(Napi::Env env, RunFn run, ResultFn result) {
  return new LambdaWorker<RunFn, ResultFn>(env, std::move(run), std::move(result));
}

Napi::Float32Array ToFloat32Array(Napi::Env env, const std::vector<float>& v);

}  // namespace winnow::binding
