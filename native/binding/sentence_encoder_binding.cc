#include <napi.h>

#include <cstring>

#include "addon_data.h"
#include "model_wrap.h"
#include "pipelines/sentence_encoder.h"

namespace winnow::binding {

using pipelines::EncodeParams;
using pipelines::EncodeResult;
using pipelines::Precision;
using pipelines::SentenceEncoder;

namespace {

template <class Array, class T>
Array ToTypedArray(Napi::Env env, const std::vector<T>& v) {
  Array a = Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}

// Reads the encode options on the main thread (validated in TypeScript already).
EncodeParams ReadEncodeParams(Napi::Env env, const Napi::Value& v) {
  EncodeParams p;
  if (!v.IsObject()) return p;
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value prompt = o.Get("prompt");
  if (prompt.IsString()) p.prompt = prompt.As<Napi::String>().Utf8Value();
  Napi::Value normalize = o.Get("normalize");
  if (normalize.IsBoolean()) p.normalize = normalize.As<Napi::Boolean>().Value();
  p.dimensions = static_cast<size_t>(GetNumber(o, "dimensions", 0));
  const std::string precision = GetString(o, "precision", "float32");
  if (precision == "float32") p.precision = Precision::kFloat32;
  else if (precision == "int8") p.precision = Precision::kInt8;
  else if (precision == "uint8") p.precision = Precision::kUint8;
  else if (precision == "binary") p.precision = Precision::kBinary;
  else if (precision == "ubinary") p.precision = Precision::kUbinary;
  else throw Napi::TypeError::New(env, "unknown precision " + precision);
  Napi::Value ranges = o.Get("ranges");
  if (ranges.IsTypedArray() && ranges.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    Napi::Float32Array r = ranges.As<Napi::Float32Array>();
    p.ranges.assign(r.Data(), r.Data() + r.ElementLength());
  } else if (!ranges.IsUndefined() && !ranges.IsNull()) {
    throw Napi::TypeError::New(env, "ranges must be a Float32Array");
  }
  return p;
}

}  // namespace

class SentenceEncoderWrap : public ModelWrap<SentenceEncoderWrap, SentenceEncoder> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    using W = SentenceEncoderWrap;
    Define<&W::Load, &W::Info>(env, exports, "NativeSentenceEncoder", &GetAddonData(env)->sentence_encoder,
                               {Method<&W::Encode>("encode")});
  }


  using ModelWrap::ModelWrap;

 private:
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    pipelines::SentenceEncoderOptions opts;
    ReadModelOptions(LoadOptions(info), &opts);
    return LoadAsync(info, &GetAddonData(info.Env())->sentence_encoder,
                     [opts]() { return SentenceEncoder::Load(opts); });
  }

  // encode(texts: string[], params, callOpts) -> Promise<{ data, rows, dim }>
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    auto texts = std::make_shared<std::vector<std::string>>(GetStringArray(info.Env(), info[0], "texts"));
    auto params = std::make_shared<EncodeParams>(ReadEncodeParams(info.Env(), info[1]));
    auto result = std::make_shared<EncodeResult>();
    return StartInference(
        info, core,
        [core, texts, params, result](const pipelines::RunControl& control) {
          std::vector<std::string_view> views(texts->begin(), texts->end());
          return core->Encode(views, *params, result.get(), control);
        },
        [result, params](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          switch (params->precision) {
            case Precision::kFloat32: o.Set("data", ToFloat32Array(env, result->f32)); break;
            case Precision::kInt8:
            case Precision::kBinary: o.Set("data", ToTypedArray<Napi::Int8Array>(env, result->i8)); break;
            case Precision::kUint8:
            case Precision::kUbinary: o.Set("data", ToTypedArray<Napi::Uint8Array>(env, result->u8)); break;
          }
          o.Set("rows", Napi::Number::New(env, static_cast<double>(result->rows)));
          o.Set("dim", Napi::Number::New(env, static_cast<double>(result->dim)));
          return o;
        }, info[2]);
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    Napi::Env env = info.Env();
    Napi::Object o = SessionInfo(env, *core);
    o.Set("dim", Napi::Number::New(env, static_cast<double>(core->dim())));
    o.Set("pooling", Napi::String::New(env, core->pooling_name()));
    o.Set("poolingFromConfig", Napi::Boolean::New(env, core->pooling_from_config()));
    o.Set("includePrompt", Napi::Boolean::New(env, core->include_prompt()));
    o.Set("normalize", Napi::Boolean::New(env, core->normalize_default()));
    o.Set("lowerCase", Napi::Boolean::New(env, core->lower_case()));
    o.Set("output", Napi::String::New(env, core->output_name()));
    Napi::Object prompts = Napi::Object::New(env);
    for (const auto& [name, value] : core->prompts()) prompts.Set(name, Napi::String::New(env, value));
    o.Set("prompts", prompts);
    o.Set("similarityFnName", Napi::String::New(env, core->similarity_fn_name()));
    o.Set("defaultPromptName", core->default_prompt_name().empty()
                                   ? env.Null()
                                   : Napi::Value(Napi::String::New(env, core->default_prompt_name())));
    return o;
  }
};

void InitSentenceEncoder(Napi::Env env, Napi::Object exports) { SentenceEncoderWrap::Init(env, exports); }

}  // namespace winnow::binding
