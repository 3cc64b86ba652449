#include <napi.h>

#include "addon_data.h"
#include "model_wrap.h"
#include "pipelines/pruning_encoder.h"
#include "tokenizer/tokenizer.h"

namespace winnow::binding {

using pipelines::PruningEncoder;

namespace {

// One document as the core sees it: its UTF-8 text and, for pre-split input, the sentence ranges.
struct DocInput {
  std::string text;
  bool presplit = false;
  std::vector<std::pair<size_t, size_t>> sentences;
};

Napi::Uint32Array ToUint32Array(Napi::Env env, const std::vector<std::pair<uint32_t, uint32_t>>& spans, size_t from,
                                size_t to) {
  auto a = Napi::Uint32Array::New(env, (to - from) * 2);
  for (size_t i = from; i < to; ++i) {
    a[(i - from) * 2] = spans[i].first;
    a[(i - from) * 2 + 1] = spans[i].second;
  }
  return a;
}

}  // namespace

class PruningEncoderWrap : public ModelWrap<PruningEncoderWrap, PruningEncoder> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    using W = PruningEncoderWrap;
    Define<&W::Load, &W::Info>(env, exports, "NativePruningEncoder", &GetAddonData(env)->pruning_encoder,
                               {Method<&W::Process>("process"),
                                Method<&W::Predict>("predict")});
  }


  using ModelWrap::ModelWrap;

 private:
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    pipelines::PruningEncoderOptions opts;
    Napi::Object o = LoadOptions(info);
    ReadModelOptions(o, &opts);
    opts.threshold = GetNumber(o, "threshold", -1);
    return LoadAsync(info, &GetAddonData(info.Env())->pruning_encoder, [opts]() { return PruningEncoder::Load(opts); });
  }

  // process(queries: string[], queryOf: number[], documents: (string | string[])[], opts)
  //   -> Promise<{score, tokensTotal, tokensKept, keptSpans: Uint32Array, sentenceSpans?, sentenceProbs?, sentenceKept?}[]>
  // Spans are UTF-16 [start, end) pairs, flat; for pre-split documents they index sentences.join('').
  Napi::Value Process(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto core = CoreOrThrow(env);
    auto queries = std::make_shared<std::vector<std::string>>(GetStringArray(env, info[0], "queries"));
    if (!info[1].IsArray() || !info[2].IsArray()) throw Napi::TypeError::New(env, "process() needs arrays");
    Napi::Array qof = info[1].As<Napi::Array>();
    Napi::Array docs_js = info[2].As<Napi::Array>();
    if (qof.Length() != docs_js.Length()) throw Napi::TypeError::New(env, "query indices and documents differ in length");
    auto docs = std::make_shared<std::vector<DocInput>>(docs_js.Length());
    auto query_of = std::make_shared<std::vector<size_t>>(docs_js.Length());
    for (uint32_t i = 0; i < docs_js.Length(); ++i) {
      Napi::Value q = qof.Get(i);
      if (!q.IsNumber() || q.As<Napi::Number>().Uint32Value() >= queries->size())
        throw Napi::TypeError::New(env, "query index out of range");
      (*query_of)[i] = q.As<Napi::Number>().Uint32Value();
      Napi::Value d = docs_js.Get(i);
      DocInput& di = (*docs)[i];
      if (d.IsString()) {
        di.text = d.As<Napi::String>().Utf8Value();
      } else if (d.IsArray()) {
        di.presplit = true;
        for (const std::string& s : GetStringArray(env, d, "documents[i]")) {
          if (s.empty()) continue;
          di.sentences.emplace_back(di.text.size(), di.text.size() + s.size());
          di.text += s;
        }
      } else {
        throw Napi::TypeError::New(env, "documents[i] must be a string or an array of strings");
      }
    }
    pipelines::PruneOptions po;
    if (info[3].IsObject()) {
      Napi::Object o = info[3].As<Napi::Object>();
      po.threshold = GetNumber(o, "threshold", -1);
      po.granularity = GetString(o, "granularity", "sentence") == "token" ? pipelines::Granularity::kToken
                                                                         : pipelines::Granularity::kSentence;
      const std::string lang = GetString(o, "language", "auto");
      po.language = lang == "en" ? pipelines::Language::kEnglish
                    : lang == "ja" ? pipelines::Language::kJapanese
                                   : pipelines::Language::kAuto;
      po.zero_score_when_empty = GetBool(o, "zeroScoreWhenEmpty", true);
    }
    auto results = std::make_shared<std::vector<pipelines::PruneResult>>();
    return StartInference(
        info, core,
        [core, queries, query_of, docs, po, results](const pipelines::RunControl& control) {
          std::vector<std::string_view> qv(queries->begin(), queries->end());
          std::vector<pipelines::PruneInput> inputs(docs->size());
          for (size_t i = 0; i < inputs.size(); ++i) {
            inputs[i].query = (*query_of)[i];
            inputs[i].text = (*docs)[i].text;
            if ((*docs)[i].presplit) inputs[i].sentences = &(*docs)[i].sentences;
          }
          return core->Process(qv, inputs, po, results.get(), control);
        },
        [docs, results](Napi::Env env) -> Napi::Value {
          Napi::Array out = Napi::Array::New(env, results->size());
          std::vector<std::pair<uint32_t, uint32_t>> spans;
          for (size_t i = 0; i < results->size(); ++i) {
            const pipelines::PruneResult& r = (*results)[i];
            spans.clear();
            for (auto [b, e] : r.kept) spans.emplace_back(static_cast<uint32_t>(b), static_cast<uint32_t>(e));
            for (const auto& s : r.sentences) spans.emplace_back(static_cast<uint32_t>(s.begin), static_cast<uint32_t>(s.end));
            tok::ByteOffsetsToUtf16((*docs)[i].text, &spans);
            Napi::Object o = Napi::Object::New(env);
            o.Set("score", Napi::Number::New(env, r.score));
            o.Set("tokensTotal", Napi::Number::New(env, static_cast<double>(r.tokens_total)));
            o.Set("tokensKept", Napi::Number::New(env, static_cast<double>(r.tokens_kept)));
            o.Set("keptSpans", ToUint32Array(env, spans, 0, r.kept.size()));
            if (!r.sentences.empty()) {
              o.Set("sentenceSpans", ToUint32Array(env, spans, r.kept.size(), spans.size()));
              auto probs = Napi::Float32Array::New(env, r.sentences.size());
              auto kept = Napi::Uint8Array::New(env, r.sentences.size());
              for (size_t s = 0; s < r.sentences.size(); ++s) {
                probs[s] = r.sentences[s].probability;
                kept[s] = r.sentences[s].kept ? 1 : 0;
              }
              o.Set("sentenceProbs", probs);
              o.Set("sentenceKept", kept);
            }
            out.Set(static_cast<uint32_t>(i), o);
          }
          return out;
        }, info[3]);
  }

  // predict(firsts: string[], seconds: string[], opts) -> Promise<Float32Array>
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    auto firsts = std::make_shared<std::vector<std::string>>(GetStringArray(info.Env(), info[0], "pairs[i][0]"));
    auto seconds = std::make_shared<std::vector<std::string>>(GetStringArray(info.Env(), info[1], "pairs[i][1]"));
    if (firsts->size() != seconds->size()) throw Napi::TypeError::New(info.Env(), "pair arrays differ in length");
    auto scores = std::make_shared<std::vector<float>>();
    return StartInference(
        info, core,
        [core, firsts, seconds, scores](const pipelines::RunControl& control) {
          std::vector<std::pair<std::string_view, std::string_view>> pairs(firsts->size());
          for (size_t i = 0; i < pairs.size(); ++i) pairs[i] = {(*firsts)[i], (*seconds)[i]};
          return core->Predict(pairs, scores.get(), control);
        },
        [scores](Napi::Env env) -> Napi::Value { return ToFloat32Array(env, *scores); }, info[2]);
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    Napi::Env env = info.Env();
    Napi::Object o = SessionInfo(env, *core);
    o.Set("threshold", Napi::Number::New(env, core->threshold()));
    return o;
  }
};

void InitPruningEncoder(Napi::Env env, Napi::Object exports) { PruningEncoderWrap::Init(env, exports); }

}  // namespace winnow::binding
