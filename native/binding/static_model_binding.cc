#include <napi.h>

#include <cstring>

#include "addon_data.h"
#include "model_wrap.h"
#include "pipelines/static_model.h"
#include "pooling/pooling.h"

namespace winnow::binding {

using pipelines::StaticEncodeOptions;
using pipelines::StaticModel;

namespace {

// encode options as the TypeScript layer passes them: { maxLength: number (0 = none), batchSize }.
StaticEncodeOptions ReadEncodeOptions(const Napi::Value& v) {
  StaticEncodeOptions opts;
  if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    opts.max_length = static_cast<size_t>(GetNumber(o, "maxLength", 512));
    opts.batch_size = static_cast<size_t>(GetNumber(o, "batchSize", 1024));
  }
  return opts;
}

std::vector<std::string_view> Views(const std::vector<std::string>& texts) {
  return std::vector<std::string_view>(texts.begin(), texts.end());
}

}  // namespace

class StaticModelWrap : public ModelWrap<StaticModelWrap, StaticModel> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    using W = StaticModelWrap;
    Define<&W::Load, &W::Info>(env, exports, "NativeStaticModel", &GetAddonData(env)->static_model,
                               {Method<&W::Encode>("encode"),
                                Method<&W::EncodeSync>("encodeSync"),
                                Method<&W::EncodeAsSequence>("encodeAsSequence"),
                                Method<&W::CountTokens>("countTokens")});
  }


  using ModelWrap::ModelWrap;

 private:
  // load({ dir, normalize?: boolean, threads?: number }) -> Promise<NativeStaticModel>
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Object o = LoadOptions(info);
    pipelines::StaticModelOptions opts;
    opts.dir = GetString(o, "dir");
    Napi::Value n = o.Get("normalize");
    if (!n.IsUndefined() && !n.IsNull()) opts.normalize = GetBool(o, "normalize", false);
    opts.threads = static_cast<int>(GetNumber(o, "threads", 0));
    return LoadAsync(info, &GetAddonData(info.Env())->static_model, [opts]() { return StaticModel::Load(opts); });
  }

  // encode(texts, { maxLength, batchSize }, callOpts) -> Promise<Float32Array> ([n, dim])
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    auto texts = std::make_shared<std::vector<std::string>>(GetStringArray(info.Env(), info[0], "texts"));
    StaticEncodeOptions opts = ReadEncodeOptions(info[1]);
    auto out = std::make_shared<std::vector<float>>();
    auto* w = MakeWorker(
        info.Env(),
        [core, texts, opts, out](const pipelines::RunControl& control) {
          out->resize(texts->size() * core->dim());
          return core->Encode(Views(*texts), opts, out->data(), control);
        },
        [out](Napi::Env env) -> Napi::Value { return ToFloat32Array(env, *out); });
    return StartCall(info, w, info[2]);
  }

  // encodeSync(texts, { maxLength, batchSize }) -> Float32Array, on the calling thread.
  Napi::Value EncodeSync(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    auto texts = GetStringArray(info.Env(), info[0], "texts");
    StaticEncodeOptions opts = ReadEncodeOptions(info[1]);
    opts.single_thread = true;
    Napi::Float32Array a = Napi::Float32Array::New(info.Env(), texts.size() * core->dim());
    Status st = core->Encode(Views(texts), opts, a.Data());
    if (!st.ok()) ThrowStatus(info.Env(), st);
    return a;
  }

  // encodeAsSequence(texts, { maxLength, batchSize }, callOpts) -> Promise<Float32Array[]>
  Napi::Value EncodeAsSequence(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    auto texts = std::make_shared<std::vector<std::string>>(GetStringArray(info.Env(), info[0], "texts"));
    StaticEncodeOptions opts = ReadEncodeOptions(info[1]);
    auto out = std::make_shared<std::vector<std::vector<float>>>();
    auto* w = MakeWorker(
        info.Env(),
        [core, texts, opts, out](const pipelines::RunControl& control) {
          return core->EncodeAsSequence(Views(*texts), opts, out.get(), control);
        },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Array a = Napi::Array::New(env, out->size());
          for (size_t i = 0; i < out->size(); ++i) a.Set(static_cast<uint32_t>(i), ToFloat32Array(env, (*out)[i]));
          return a;
        });
    return StartCall(info, w, info[2]);
  }

  // countTokens(texts, { maxLength, batchSize }, callOpts) -> Promise<Uint32Array>: tokenize only.
  Napi::Value CountTokens(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    auto texts = std::make_shared<std::vector<std::string>>(GetStringArray(info.Env(), info[0], "texts"));
    StaticEncodeOptions opts = ReadEncodeOptions(info[1]);
    auto out = std::make_shared<std::vector<uint32_t>>();
    auto* w = MakeWorker(
        info.Env(),
        [core, texts, opts, out](const pipelines::RunControl& control) {
          return core->CountTokens(Views(*texts), opts, out.get(), control);
        },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Uint32Array a = Napi::Uint32Array::New(env, out->size());
          if (!out->empty()) std::memcpy(a.Data(), out->data(), out->size() * sizeof(uint32_t));
          return a;
        });
    return StartCall(info, w, info[2]);
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("dim", Napi::Number::New(env, static_cast<double>(core->dim())));
    o.Set("vocabSize", Napi::Number::New(env, static_cast<double>(core->vocab_size())));
    o.Set("rows", Napi::Number::New(env, static_cast<double>(core->rows())));
    o.Set("dtype", Napi::String::New(env, core->dtype_name()));
    o.Set("normalize", Napi::Boolean::New(env, core->normalize()));
    o.Set("medianTokenLength", Napi::Number::New(env, static_cast<double>(core->median_token_length())));
    o.Set("threads", Napi::Number::New(env, core->threads()));
    o.Set("weights", Napi::Boolean::New(env, core->has_weights()));
    o.Set("mapping", Napi::Boolean::New(env, core->has_mapping()));
    o.Set("safetensorsPath", Napi::String::New(env, core->safetensors_path()));
    o.Set("tokenizerPath", Napi::String::New(env, core->tokenizer_path()));
    o.Set("simd", Napi::String::New(env, pooling::ActiveSimdLevelName()));
    return o;
  }
};

void InitStaticModel(Napi::Env env, Napi::Object exports) { StaticModelWrap::Init(env, exports); }

}  // namespace winnow::binding
