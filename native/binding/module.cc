#include <napi.h>

#include <algorithm>

#include "addon_data.h"
#include "common/cpu_features.h"
#include "model_wrap.h"
#include "napi_util.h"
#include "pooling/pooling.h"
#include "runtime/custom_ops.h"
#include "runtime/ort_runtime.h"

namespace winnow::binding {

void InitCrossEncoder(Napi::Env env, Napi::Object exports);
void InitTokenizer(Napi::Env env, Napi::Object exports);
void InitPruningEncoder(Napi::Env env, Napi::Object exports);
void InitSentenceEncoder(Napi::Env env, Napi::Object exports);
void InitStaticModel(Napi::Env env, Napi::Object exports);

namespace {

void FreeCancel(Napi::Env, CancelFlag* flag) { delete flag; }

Napi::Value NewCancelToken(const Napi::CallbackInfo& info) {
  auto* flag = new CancelFlag(std::make_shared<std::atomic<bool>>(false));
  return Napi::External<CancelFlag>::New(info.Env(), flag, FreeCancel);
}

Napi::Value Cancel(const Napi::CallbackInfo& info) {
  if (info[0].IsExternal()) (*info[0].As<Napi::External<CancelFlag>>().Data())->store(true);
  return info.Env().Undefined();
}

// ortInfo(libraryPath) -> { version, library, providers }: loads ONNX Runtime if needed.
Napi::Value OrtInfo(const Napi::CallbackInfo& info) {
  std::string path = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  auto rt = rt::OrtRuntime::Get(path);
  if (!rt.ok()) ThrowStatus(info.Env(), rt.status());
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("version", (*rt)->version());
  o.Set("library", (*rt)->library_path());
  auto providers = (*rt)->AvailableProviders();
  Napi::Array a = Napi::Array::New(info.Env(), providers.size());
  for (size_t i = 0; i < providers.size(); ++i) a.Set(i, providers[i]);
  o.Set("providers", a);
  return o;
}

// simdLevel() -> 'avx512' | 'avx2' | 'neon' | 'scalar': the level Winnow's own kernels run at in this process
// (the best the CPU has, capped by WINNOW_SIMD).
Napi::Value SimdLevel(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), SimdLevelName(ActiveSimdLevel()));
}

// operatorKernels() -> { [operator]: instructions }: what each of Winnow's ONNX Runtime operators runs here.
Napi::Value OperatorKernels(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  for (const auto& [op, isa] : rt::OperatorKernels()) o.Set(op, isa);
  return o;
}

// Arguments 0-5 of similarity and semanticSearch: a: Float32Array, n, b: Float32Array, m, dim, fn: 0..3.
// lib/similarity.ts checks them, so a mismatch here is a bug there (INTERNAL).
struct MatrixPairArgs {
  Napi::Float32Array a, b;
  size_t n, m, dim;
  int fn;
};

MatrixPairArgs GetMatrixPair(const Napi::CallbackInfo& info, size_t arity, const char* name) {
  Napi::Env env = info.Env();
  if (info.Length() < arity || !info[0].IsTypedArray() || !info[2].IsTypedArray())
    ThrowStatus(env, Status(codes::kInternal, std::string(name) + ": bad arguments"));
  MatrixPairArgs r{info[0].As<Napi::Float32Array>(),
                   info[2].As<Napi::Float32Array>(),
                   static_cast<size_t>(info[1].As<Napi::Number>().Int64Value()),
                   static_cast<size_t>(info[3].As<Napi::Number>().Int64Value()),
                   static_cast<size_t>(info[4].As<Napi::Number>().Int64Value()),
                   info[5].As<Napi::Number>().Int32Value()};
  if (r.a.TypedArrayType() != napi_float32_array || r.b.TypedArrayType() != napi_float32_array ||
      r.a.ElementLength() != r.n * r.dim || r.b.ElementLength() != r.m * r.dim || r.fn < 0 || r.fn > 3)
    ThrowStatus(env, Status(codes::kInternal, std::string(name) + ": arguments do not match"));
  return r;
}

// similarity(a, n, b, m, dim, fn, pairwise, threads (0: one per core), out: Float32Array of the result's size).
// Synchronous, as sentence-transformers' is: the calling thread works and waits for the pool's threads on large
// calls. lib/similarity.ts allocates `out`, where a result too large to allocate is a thrown error (here it
// would be a fatal one).
Napi::Value Similarity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MatrixPairArgs x = GetMatrixPair(info, 9, "similarity");
  if (!info[6].IsBoolean() || (info[6].As<Napi::Boolean>().Value() && x.n != x.m))
    ThrowStatus(env, Status(codes::kInternal, "similarity: arguments do not match"));
  const bool pairwise = info[6].As<Napi::Boolean>().Value();
  const int threads = info[7].IsNumber() ? info[7].As<Napi::Number>().Int32Value() : 0;
  const size_t size = pairwise ? x.n : x.n * x.m;
  if (!info[8].IsTypedArray() || info[8].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
      info[8].As<Napi::Float32Array>().ElementLength() != size)
    ThrowStatus(env, Status(codes::kInternal, "similarity: the result array does not match"));
  auto out = info[8].As<Napi::Float32Array>();
  if (size > 0)
    pooling::SimilarityMatrix(x.a.Data(), x.n, x.b.Data(), x.m, x.dim, static_cast<pooling::Similarity>(x.fn), pairwise,
                              out.Data(), threads);
  return out;
}

// Calls of semanticSearch in flight (no model owns them).
std::atomic<int> g_free_calls{0};

// semanticSearch(q, n, c, m, dim, fn, k, chunk, threads (0: one per core), callOpts)
//   -> Promise<{ index: Int32Array, score: Float32Array }> ([n, min(k, m)] each), on a worker thread. Both arrays
// are held (not copied) until the promise settles.
Napi::Value SemanticSearch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MatrixPairArgs x = GetMatrixPair(info, 10, "semanticSearch");
  if (x.m > INT32_MAX) ThrowStatus(env, Status(codes::kInternal, "semanticSearch: arguments do not match"));
  // Plain values for the worker thread, which must not touch the JavaScript objects.
  const float* qd = x.a.Data();
  const float* cd = x.b.Data();
  const size_t n = x.n, m = x.m, dim = x.dim;
  const int fn = x.fn;
  const auto k = static_cast<size_t>(info[6].As<Napi::Number>().Int64Value());
  const auto chunk = static_cast<size_t>(info[7].As<Napi::Number>().Int64Value());
  const int threads = info[8].As<Napi::Number>().Int32Value();
  auto index = std::make_shared<std::vector<int32_t>>();
  auto score = std::make_shared<std::vector<float>>();
  auto* w = MakeWorker(
      env,
      [=](const pipelines::RunControl& control) {
        return pooling::SemanticSearch(qd, n, cd, m, dim, static_cast<pooling::Similarity>(fn), k, chunk, threads,
                                       [&control] { return control.cancelled(); }, control.progress, index.get(),
                                       score.get());
      },
      [index, score](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        auto idx = Napi::Int32Array::New(env, index->size());
        std::copy(index->begin(), index->end(), idx.Data());
        o.Set("index", idx);
        o.Set("score", ToFloat32Array(env, *score));
        return o;
      });
  Napi::Object held = Napi::Object::New(env);  // keeps both arrays alive while the worker reads them
  held.Set("q", x.a);
  held.Set("c", x.b);
  if (info[9].IsObject()) {
    Napi::Object o = info[9].As<Napi::Object>();
    w->SetProgressCallback(o.Get("onProgress"));
    w->SetCancelFlag(GetCancelFlag(o.Get("cancelToken")));
  }
  w->HoldOwner(held, &g_free_calls);
  w->Queue();
  return w->Promise();
}

}  // namespace

CancelFlag GetCancelFlag(const Napi::Value& v) {
  if (!v.IsExternal()) return nullptr;
  return *v.As<Napi::External<CancelFlag>>().Data();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  InitCrossEncoder(env, exports);
  InitTokenizer(env, exports);
  InitPruningEncoder(env, exports);
  InitSentenceEncoder(env, exports);
  InitStaticModel(env, exports);
  exports.Set("newCancelToken", Napi::Function::New(env, Guarded<&NewCancelToken>));
  exports.Set("cancel", Napi::Function::New(env, Guarded<&Cancel>));
  exports.Set("ortInfo", Napi::Function::New(env, Guarded<&OrtInfo>));
  exports.Set("simdLevel", Napi::Function::New(env, Guarded<&SimdLevel>));
  exports.Set("operatorKernels", Napi::Function::New(env, Guarded<&OperatorKernels>));
  exports.Set("similarity", Napi::Function::New(env, Guarded<&Similarity>));
  exports.Set("semanticSearch", Napi::Function::New(env, Guarded<&SemanticSearch>));
  return exports;
}

}  // namespace winnow::binding

static Napi::Object WinnowInit(Napi::Env env, Napi::Object exports) { return winnow::binding::Init(env, exports); }

NODE_API_MODULE(winnow, WinnowInit)
