// Shared shape of every model wrapper: async load, in-flight counting, dispose rules.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstring>
#include <string>
#include <string_view>
#include <memory>
#include <vector>

#include "call_runner.h"
#include "napi_util.h"

namespace winnow::binding {

inline constexpr const char* kDisposedCode = "DISPOSED";
inline constexpr const char* kBusyCode = "MODEL_BUSY";

template <class Derived, class Core>
class ModelWrap : public Napi::ObjectWrap<Derived> {
 public:
  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Derived>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "use the static load() function");
    auto* holder = info[0].As<Napi::External<std::shared_ptr<Core>>>().Data();
    core_ = *holder;
  }

  // An instance method M (of Derived or of this class), guarded as GuardSync says: register
  // InstanceMethod("name", &Wrap::GuardedMethod<&Wrap::Name>).
  template <auto M>
  Napi::Value GuardedMethod(const Napi::CallbackInfo& info) {
    return GuardSync(info.Env(), [&] { return (static_cast<Derived*>(this)->*M)(info); });
  }

  using Descriptor = typename Napi::ObjectWrap<Derived>::PropertyDescriptor;

  // An instance method M of Derived (or of this class), guarded (GuardSync), for Define's list.
  template <auto M>
  static Descriptor Method(const char* name) {
    return Napi::ObjectWrap<Derived>::InstanceMethod(name, &ModelWrap::GuardedMethod<M>);
  }

  // Defines the JavaScript class `name`: the static `load` (Load, guarded), the class's own `methods` (built with
  // Method), and what every model has: `info` (Info), `dispose`, `inFlight`, and for transformer models (a core with
  // batch_stats()) `batchStats`. Its constructor is kept in `*ctor` for LoadAsync.
  template <auto Load, auto Info>
  static void Define(Napi::Env env, Napi::Object exports, const char* name, Napi::FunctionReference* ctor,
                     std::vector<Descriptor> methods) {
    methods.push_back(Napi::ObjectWrap<Derived>::StaticMethod("load", &Guarded<Load>));
    methods.push_back(Method<Info>("info"));
    methods.push_back(Method<&ModelWrap::Dispose>("dispose"));
    if constexpr (requires(const Core& c) { c.batch_stats(); })
      methods.push_back(Method<&ModelWrap::BatchStats>("batchStats"));
    if constexpr (requires(const Core& c, const std::string& p) { c.SaveBuiltGraph(p); })
      methods.push_back(Method<&ModelWrap::SaveGraph>("saveOnnx"));
    if constexpr (requires(const Core& c, std::vector<uint32_t>* out) { c.CountTokens({}, out, {}); })
      methods.push_back(Method<&ModelWrap::CountTokens>("countTokens"));
    methods.push_back(
        Napi::ObjectWrap<Derived>::InstanceAccessor("inFlight", &ModelWrap::GuardedMethod<&ModelWrap::InFlight>, nullptr));
    Napi::Function f = Napi::ObjectWrap<Derived>::DefineClass(env, name, methods);
    *ctor = Napi::Persistent(f);
    exports.Set(name, f);
  }

  // The options object of `load(options)` (lib/ built and checked it).
  static Napi::Object LoadOptions(const Napi::CallbackInfo& info) {
    if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "load(options) needs an options object");
    return info[0].As<Napi::Object>();
  }

  // Starts `load(options)` on a worker; resolves with a new wrapper.
  template <class LoadFn>
  static Napi::Value LoadAsync(const Napi::CallbackInfo& info, Napi::FunctionReference* ctor, LoadFn load) {
    auto core = std::make_shared<std::shared_ptr<Core>>();
    auto* w = MakeWorker(
        info.Env(),
        [core, load](const pipelines::RunControl&) -> Status {
          auto r = load();
          if (!r.ok()) return r.status();
          *core = std::shared_ptr<Core>(std::move(r).value());
          return Status::Ok();
        },
        [core, ctor](Napi::Env env) -> Napi::Value {
          auto ext = Napi::External<std::shared_ptr<Core>>::New(env, core.get());
          return ctor->New({ext});
        });
    w->Queue();
    return w->Promise();
  }

  // The info fields every transformer model shares (its core has max_length(), model_max_length(), session()).
  static Napi::Object SessionInfo(Napi::Env env, const Core& core) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("maxLength", Napi::Number::New(env, static_cast<double>(core.max_length())));
    o.Set("modelMaxLength", Napi::Number::New(env, static_cast<double>(core.model_max_length())));
    o.Set("device", Napi::String::New(env, core.session().device()));
    o.Set("onnxPath", Napi::String::New(env, core.session().path()));
    o.Set("source", Napi::String::New(env, core.source()));
    o.Set("built", Napi::Boolean::New(env, core.built()));
    o.Set("fusedLayerNorms", Napi::Number::New(env, core.session().fused_layer_norms()));
    // Blocks fused at load, or written fused by the graph builder (com.winnow Attention, counted apart for tests).
    o.Set("fusedAttentions", Napi::Number::New(env, core.session().fused_attentions() + core.winnow_attentions()));
    o.Set("winnowAttentions", Napi::Number::New(env, core.winnow_attentions()));  // internal: tests
    o.Set("bf16Attentions", Napi::Number::New(env, core.bf16_attentions()));
    o.Set("quantizedMatMuls", Napi::Number::New(env, core.session().quantized_matmuls()));
    o.Set("bf16MatMuls", Napi::Number::New(env, core.session().bf16_matmuls()));
    o.Set("packedAttentions", Napi::Number::New(env, core.session().packed_attentions()));  // internal: tests
    o.Set("ioBinding", Napi::String::New(env, core.session().io_binding()));  // not in the typed API: tests, GPU script
    return o;
  }

  // The core for a new call: throws DISPOSED after dispose().
  std::shared_ptr<Core> CoreOrThrow(Napi::Env env) {
    if (!core_) {
      Napi::Error e = Napi::Error::New(env, "this model has been disposed");
      e.Set("code", Napi::String::New(env, kDisposedCode));
      throw e;
    }
    return core_;
  }

  // Queues `w` as a call on this model: the model stays alive and counts as busy until it settles.
  Napi::Value StartCall(const Napi::CallbackInfo& info, PromiseWorker* w, const Napi::Value& opts) {
    if (opts.IsObject()) {
      Napi::Object o = opts.As<Napi::Object>();
      w->SetProgressCallback(o.Get("onProgress"));
      w->SetCancelFlag(GetCancelFlag(o.Get("cancelToken")));
    }
    w->HoldOwner(this->Value(), &inflight_);
    w->Queue();
    return w->Promise();
  }

  // Starts an inference call (run on a worker thread, result on the main thread): on a thread of its own when the
  // model batches across calls (the call waits for others' rows too), else on libuv's pool.
  template <class RunFn, class ResultFn>
  Napi::Value StartInference(const Napi::CallbackInfo& info, const std::shared_ptr<Core>& core, RunFn run,
                             ResultFn result, const Napi::Value& opts) {
    if constexpr (requires(const Core& c) { c.batches_across_calls(); }) {
      if (core->batches_across_calls())
        return runner_->Start(info.Env(), std::move(run), std::move(result), opts, this->Value(), &inflight_);
    }
    return StartCall(info, MakeWorker(info.Env(), std::move(run), std::move(result)), opts);
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (inflight_.load() > 0) {
      Napi::Error e = Napi::Error::New(info.Env(), "cannot dispose while " + std::to_string(inflight_.load()) +
                                                       " call(s) are running; await them first");
      e.Set("code", Napi::String::New(info.Env(), kBusyCode));
      throw e;
    }
    core_.reset();
    return info.Env().Undefined();
  }

  // batchStats() -> { batches, rows, tokens, paddedTokens, sequenceLengths: number[] } (zeros after dispose)
  Napi::Value BatchStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const pipelines::BatchStats s = core_ ? core_->batch_stats() : pipelines::BatchStats();
    Napi::Object o = Napi::Object::New(env);
    o.Set("batches", Napi::Number::New(env, static_cast<double>(s.batches)));
    o.Set("rows", Napi::Number::New(env, static_cast<double>(s.rows)));
    o.Set("tokens", Napi::Number::New(env, static_cast<double>(s.tokens)));
    o.Set("paddedTokens", Napi::Number::New(env, static_cast<double>(s.padded_tokens)));
    Napi::Array lengths = Napi::Array::New(env, s.sequence_lengths.size());
    uint32_t i = 0;
    for (size_t len : s.sequence_lengths) lengths.Set(i++, Napi::Number::New(env, static_cast<double>(len)));
    o.Set("sequenceLengths", lengths);
    if constexpr (requires(const Core& c) { c.shared_batches(); })
      o.Set("sharedBatches", Napi::Number::New(env, core_ ? static_cast<double>(core_->shared_batches()) : 0.0));
    return o;
  }

  // saveOnnx(path) -> Promise<void>: the graph built from the checkpoint, every weight inline, written on a worker.
  Napi::Value SaveGraph(const Napi::CallbackInfo& info) {
    std::shared_ptr<Core> core = CoreOrThrow(info.Env());
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    auto* w = MakeWorker(
        info.Env(), [core, path](const pipelines::RunControl&) { return core->SaveBuiltGraph(path); },
        [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
    return StartCall(info, w, info.Env().Undefined());
  }

  // countTokens(texts, callOpts) -> Promise<Uint32Array>: the model's tokenizer only (transformer models).
  Napi::Value CountTokens(const Napi::CallbackInfo& info) {
    std::shared_ptr<Core> core = CoreOrThrow(info.Env());
    auto texts = std::make_shared<std::vector<std::string>>(GetStringArray(info.Env(), info[0], "texts"));
    auto out = std::make_shared<std::vector<uint32_t>>();
    auto* w = MakeWorker(
        info.Env(),
        [core, texts, out](const pipelines::RunControl& control) {
          std::vector<std::string_view> views(texts->begin(), texts->end());
          return core->CountTokens(views, out.get(), control);
        },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Uint32Array a = Napi::Uint32Array::New(env, out->size());
          if (!out->empty()) std::memcpy(a.Data(), out->data(), out->size() * sizeof(uint32_t));
          return a;
        });
    return StartCall(info, w, info[1]);
  }

  Napi::Value InFlight(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), inflight_.load()); }

 protected:
  std::shared_ptr<Core> core_;
  std::atomic<int> inflight_{0};
  std::shared_ptr<CallRunner> runner_ = std::make_shared<CallRunner>();
};

}  // namespace winnow::binding
