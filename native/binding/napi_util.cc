#include "napi_util.h"

#include <chrono>
#include <cmath>
#include <cstring>

namespace winnow::binding {

Napi::Error StatusToError(Napi::Env env, const Status& status) {
  const std::string& code = status.code();
  Napi::Error err = (code == codes::kInvalidArgument || code == codes::kQueryTooLong)
                        ? static_cast<Napi::Error>(Napi::RangeError::New(env, status.message()))
                        : Napi::Error::New(env, status.message());
  err.Set("code", Napi::String::New(env, code));
  return err;
}

void ThrowStatus(Napi::Env env, const Status& status) { throw StatusToError(env, status); }

namespace {
[[noreturn]] void TypeErr(Napi::Env env, const std::string& what, const Napi::Value& v) {
  throw Napi::TypeError::New(env, "Expected " + what + " but received a value of another type");
}
}  // namespace

std::string GetString(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) TypeErr(o.Env(), std::string("a string for ") + key, v);
  return v.As<Napi::String>().Utf8Value();
}

double GetNumber(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) TypeErr(o.Env(), std::string("a number for ") + key, v);
  return v.As<Napi::Number>().DoubleValue();
}

bool GetBool(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) TypeErr(o.Env(), std::string("a boolean for ") + key, v);
  return v.As<Napi::Boolean>().Value();
}

std::vector<std::string> GetStringArray(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsArray()) TypeErr(env, std::string("an array of strings for ") + what, v);
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value s = a.Get(i);
    if (!s.IsString()) TypeErr(env, std::string("a string for ") + what + "[" + std::to_string(i) + "]", s);
    // napi converts lone surrogates to U+FFFD, so the core always sees valid UTF-8.
    out.push_back(s.As<Napi::String>().Utf8Value());
  }
  return out;
}

void ReadModelOptions(const Napi::Object& o, pipelines::ModelOptions* out) {
  out->dir = GetString(o, "dir");
  out->file = GetString(o, "file");
  const std::string source = GetString(o, "source", "auto");
  out->source = source == "onnx"         ? pipelines::ModelOptions::Source::kOnnx
                : source == "checkpoint" ? pipelines::ModelOptions::Source::kCheckpoint
                                         : pipelines::ModelOptions::Source::kAuto;
  out->adapter = GetString(o, "adapter");
  out->ort_library = GetString(o, "ortLibrary");
  auto device = rt::ParseDevice(GetString(o, "device", "cpu"));
  if (!device.ok()) ThrowStatus(o.Env(), device.status());
  rt::SessionConfig& s = out->session;
  s.device = *device;
  s.intra_op_threads = static_cast<int>(GetNumber(o, "threads", 0));
  out->max_length = static_cast<size_t>(GetNumber(o, "maxLength", 0));
  out->batch_size = static_cast<size_t>(GetNumber(o, "batchSize", 0));  // 0: 32 on CPU, 128 on GPU
  out->token_budget = static_cast<size_t>(GetNumber(o, "tokenBudget", 0));
  out->mecab_dictionary = GetString(o, "mecabDictionary");
  out->batch_across_calls = GetBool(o, "batchAcrossCalls", true);
  s.gpu_mem_limit = static_cast<size_t>(GetNumber(o, "gpuMemLimit", 0));
  s.allow_tf32 = GetBool(o, "allowTf32", false);
  s.prepack_weights = GetBool(o, "prepackWeights", true);
  // fuseLayerNorm: undefined = float graphs only, true = quantized graphs too, false = never.
  Napi::Value fuse = o.Get("fuseLayerNorm");
  s.fuse_layer_norm = !fuse.IsBoolean()                    ? rt::SessionConfig::Fusion::kAuto
                         : fuse.As<Napi::Boolean>().Value() ? rt::SessionConfig::Fusion::kAll
                                                            : rt::SessionConfig::Fusion::kOff;
  // fuseAttention: undefined = float graphs on the CPU, true = on every device (and quantized graphs when
  // fuseLayerNorm is true), false = never.
  Napi::Value attention = o.Get("fuseAttention");
  s.fuse_attention = !attention.IsBoolean()                    ? rt::SessionConfig::Fusion::kAuto
                        : attention.As<Napi::Boolean>().Value() ? rt::SessionConfig::Fusion::kAll
                                                                : rt::SessionConfig::Fusion::kOff;
  s.quantize_int8 = GetString(o, "quantize") == "int8";  // validated in lib/model-options.ts
  s.bf16 = GetString(o, "dtype") == "bf16";               // validated in lib/model-options.ts
  s.winnow_kernels = GetString(o, "kernels", "winnow") != "onnxruntime";
  // lengthBuckets: undefined = on a GPU only.
  Napi::Value buckets = o.Get("lengthBuckets");
  out->length_buckets = !buckets.IsBoolean()                    ? pipelines::ModelOptions::Toggle::kAuto
                        : buckets.As<Napi::Boolean>().Value() ? pipelines::ModelOptions::Toggle::kOn
                                                              : pipelines::ModelOptions::Toggle::kOff;
}

bool CanRunJs(napi_env env) {
  napi_value probe;
  if (napi_create_object(env, &probe) != napi_ok) return false;
  return napi_set_named_property(env, probe, "p", probe) == napi_ok;
}

void SettleDeferred(Napi::Env env, Napi::Promise::Deferred& deferred, const Status& status,
                    const std::function<Napi::Value(Napi::Env)>& result) {
  if (!CanRunJs(env)) return;  // torn down: the promise can no longer settle, and no one awaits it
  Napi::HandleScope scope(env);
  try {
    if (!status.ok()) {
      deferred.Reject(StatusToError(env, status).Value());
      return;
    }
    try {
      deferred.Resolve(GuardSync(env, [&] { return result(env); }));
    } catch (const Napi::Error& e) {
      deferred.Reject(e.Value());
    }
  } catch (const Napi::Error&) {
    // Settling failed only if the environment stopped meanwhile; nothing is left to tell.
  }
}

namespace {

// Without an onProgress callback a run still reports now and then, so that a torn-down environment is noticed
// (in OnProgress) and the run stopped at its next cancellation point.
constexpr auto kHeartbeat = std::chrono::milliseconds(20);

}  // namespace

PromiseWorker::PromiseWorker(Napi::Env env)
    : Napi::AsyncProgressQueueWorker<ProgressEvent>(env),
      deferred_(Napi::Promise::Deferred::New(env)),
      cancel_(std::make_shared<std::atomic<bool>>(false)) {}

void PromiseWorker::SetProgressCallback(const Napi::Value& fn) {
  if (fn.IsFunction()) progress_fn_ = Napi::Persistent(fn.As<Napi::Function>());
}

void PromiseWorker::SetCancelFlag(CancelFlag flag) {
  if (flag) cancel_ = std::move(flag);
}

void PromiseWorker::HoldOwner(const Napi::Object& owner, std::atomic<int>* inflight) {
  owner_ = Napi::Persistent(owner);
  inflight_ = inflight;
  inflight_->fetch_add(1);
}

void PromiseWorker::Execute(const ExecutionProgress& progress) {
  pipelines::RunControl control;
  control.cancel = cancel_.get();
  const bool listening = !progress_fn_.IsEmpty();
  std::atomic<int64_t> last_sent{0};
  control.progress = [&progress, &last_sent, listening](size_t done, size_t total) {
    if (!listening) {
      const int64_t now = std::chrono::steady_clock::now().time_since_epoch() / kHeartbeat;
      if (last_sent.exchange(now) == now) return;
    }
    ProgressEvent e{done, total};
    progress.Send(&e, 1);
  };
  try {
    status_ = Run(control);
  } catch (const std::bad_alloc&) {
    status_ = Status(codes::kInternal, "out of memory");
  } catch (const std::exception& e) {
    status_ = Status(codes::kInternal, e.what());
  }
}

void PromiseWorker::OnProgress(const ProgressEvent* data, size_t count) {
  Napi::Env env = Env();
  if (!CanRunJs(env)) {
    cancel_->store(true);  // the environment is going away: nobody will read the result
    return;
  }
  if (progress_fn_.IsEmpty() || count == 0) return;
  try {
    Napi::HandleScope scope(env);
    const ProgressEvent& e = data[count - 1];
    Napi::Object info = Napi::Object::New(env);
    info.Set("done", Napi::Number::New(env, static_cast<double>(e.done)));
    info.Set("total", Napi::Number::New(env, static_cast<double>(e.total)));
    progress_fn_.Call({info});
  } catch (const Napi::Error&) {
    // A throwing progress callback must not break the run.
  }
}

void PromiseWorker::Release() {
  if (inflight_) inflight_->fetch_sub(1);
  inflight_ = nullptr;
  if (!owner_.IsEmpty()) owner_.Reset();
}

void PromiseWorker::OnOK() {
  Release();
  SettleDeferred(Env(), deferred_, status_, [this](Napi::Env env) { return Result(env); });
}

void PromiseWorker::OnError(const Napi::Error& e) {
  Release();
  if (!CanRunJs(Env())) return;
  try {
    deferred_.Reject(e.Value());
  } catch (const Napi::Error&) {
    // As in OnOK.
  }
}

Napi::Float32Array ToFloat32Array(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}

}  // namespace winnow::binding
