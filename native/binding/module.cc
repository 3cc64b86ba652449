#include <napi.h>

#include "addon_data.h"
#include "common/cpu_features.h"
#include "model_wrap.h"
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
  exports.Set("newCancelToken", Napi::Function::New(env, NewCancelToken));
  exports.Set("cancel", Napi::Function::New(env, Cancel));
  exports.Set("ortInfo", Napi::Function::New(env, OrtInfo));
  exports.Set("simdLevel", Napi::Function::New(env, SimdLevel));
  return exports;
}

}  // namespace winnow::binding

static Napi::Object WinnowInit(Napi::Env env, Napi::Object exports) { return winnow::binding::Init(env, exports); }

NODE_API_MODULE(winnow, WinnowInit)
