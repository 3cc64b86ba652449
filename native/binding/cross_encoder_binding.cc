#include <napi.h>

#include "addon_data.h"
#include "model_wrap.h"
#include "pipelines/cross_encoder.h"

namespace winnow::binding {

using pipelines::CrossEncoder;

class CrossEncoderWrap : public ModelWrap<CrossEncoderWrap, CrossEncoder> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    using W = CrossEncoderWrap;
    Define<&W::Load, &W::Info>(env, exports, "NativeCrossEncoder", &GetAddonData(env)->cross_encoder,
                               {Method<&W::Predict>("predict"),
                                Method<&W::Score>("score")});
  }


  using ModelWrap::ModelWrap;

 private:
  // The per-call settings in the call options (lib/cross-encoder.ts checked them): activation ('sigmoid' |
  // 'softmax' | 'none'), and for score, chunk: { overlap, aggregate: 'max' | 'mean' | 'first' }.
  static pipelines::ScoreOptions ReadScoreOptions(const Napi::Value& v) {
    pipelines::ScoreOptions so;
    if (!v.IsObject()) return so;
    Napi::Object o = v.As<Napi::Object>();
    const std::string act = GetString(o, "activation");
    if (act == "sigmoid") so.activation = pipelines::Activation::kSigmoid;
    if (act == "softmax") so.activation = pipelines::Activation::kSoftmax;
    if (act == "none") so.activation = pipelines::Activation::kNone;
    Napi::Value chunk = o.Get("chunk");
    if (chunk.IsObject()) {
      Napi::Object c = chunk.As<Napi::Object>();
      so.chunk = true;
      so.overlap = static_cast<size_t>(GetNumber(c, "overlap", 0));
      const std::string agg = GetString(c, "aggregate", "max");
      so.aggregate = agg == "mean"    ? pipelines::ChunkAggregate::kMean
                     : agg == "first" ? pipelines::ChunkAggregate::kFirst
                                      : pipelines::ChunkAggregate::kMax;
    }
    return so;
  }

  static Napi::Value Load(const Napi::CallbackInfo& info) {
    pipelines::CrossEncoderOptions opts;
    Napi::Object o = LoadOptions(info);
    ReadModelOptions(o, &opts);
    opts.activation = GetString(o, "activation");
    return LoadAsync(info, &GetAddonData(info.Env())->cross_encoder, [opts]() { return CrossEncoder::Load(opts); });
  }

  // predict(firsts: string[], seconds: string[], opts: call options + activation) -> Promise<Float32Array>
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    auto firsts = std::make_shared<std::vector<std::string>>(GetStringArray(info.Env(), info[0], "pairs[i][0]"));
    auto seconds = std::make_shared<std::vector<std::string>>(GetStringArray(info.Env(), info[1], "pairs[i][1]"));
    if (firsts->size() != seconds->size()) throw Napi::TypeError::New(info.Env(), "pair arrays differ in length");
    auto scores = std::make_shared<std::vector<float>>();
    const pipelines::ScoreOptions so = ReadScoreOptions(info[2]);
    return StartInference(
        info, core,
        [core, firsts, seconds, scores, so](const pipelines::RunControl& control) {
          std::vector<std::pair<std::string_view, std::string_view>> pairs(firsts->size());
          for (size_t i = 0; i < pairs.size(); ++i) pairs[i] = {(*firsts)[i], (*seconds)[i]};
          return core->Predict(pairs, scores.get(), control, so);
        },
        [scores](Napi::Env env) -> Napi::Value { return ToFloat32Array(env, *scores); }, info[2]);
  }

  // score(query: string, documents: string[], opts: call options + activation, chunk) -> Promise<Float32Array>
  Napi::Value Score(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "query must be a string");
    auto query = std::make_shared<std::string>(info[0].As<Napi::String>().Utf8Value());
    auto docs = std::make_shared<std::vector<std::string>>(GetStringArray(info.Env(), info[1], "documents"));
    auto scores = std::make_shared<std::vector<float>>();
    const pipelines::ScoreOptions so = ReadScoreOptions(info[2]);
    return StartInference(
        info, core,
        [core, query, docs, scores, so](const pipelines::RunControl& control) {
          std::vector<std::string_view> views(docs->begin(), docs->end());
          return core->Score(*query, views, scores.get(), control, so);
        },
        [scores](Napi::Env env) -> Napi::Value { return ToFloat32Array(env, *scores); }, info[2]);
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    Napi::Env env = info.Env();
    Napi::Object o = SessionInfo(env, *core);
    o.Set("numLabels", Napi::Number::New(env, static_cast<double>(core->num_labels())));
    const char* act = core->activation() == pipelines::Activation::kSigmoid   ? "sigmoid"
                      : core->activation() == pipelines::Activation::kSoftmax ? "softmax"
                                                                              : "none";
    o.Set("activation", Napi::String::New(env, act));
    return o;
  }
};

void InitCrossEncoder(Napi::Env env, Napi::Object exports) { CrossEncoderWrap::Init(env, exports); }

}  // namespace winnow::binding
