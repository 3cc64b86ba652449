#include <napi.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "addon_data.h"
#include "common/thread_pool.h"
#include "model_wrap.h"
#include "tokenizer/tokenizer.h"

namespace winnow::binding {

namespace {

tok::EncodeOptions ReadEncodeOptions(const Napi::Value& v, const tok::Tokenizer& t) {
  tok::EncodeOptions opts;
  if (!v.IsObject()) return opts;
  Napi::Object o = v.As<Napi::Object>();
  opts.add_special_tokens = GetBool(o, "addSpecialTokens", true);
  opts.truncation.max_length = static_cast<size_t>(GetNumber(o, "maxLength", 0));
  std::string strategy = GetString(o, "truncation", "longest_first");
  opts.truncation.strategy = strategy == "only_first"    ? tok::TruncationStrategy::kOnlyFirst
                             : strategy == "only_second" ? tok::TruncationStrategy::kOnlySecond
                                                         : tok::TruncationStrategy::kLongestFirst;
  opts.truncation.direction = GetString(o, "truncationSide", "right") == "left" ? tok::Direction::kLeft : tok::Direction::kRight;
  opts.truncation.stride = static_cast<size_t>(GetNumber(o, "stride", 0));
  opts.truncation.keep_overflowing = GetBool(o, "returnOverflowing", false);
  Napi::Value padding = o.Get("padding");
  if (padding.IsBoolean() && padding.As<Napi::Boolean>().Value()) {
    opts.padding.enabled = true;
    if (auto def = t.DefaultPadding()) opts.padding = *def;
    opts.padding.enabled = true;
    // Explicit options win over the file's `padding` section (pad id / type id always come from it).
    if (!o.Get("padToLength").IsUndefined()) opts.padding.length = static_cast<size_t>(GetNumber(o, "padToLength", 0));
    if (!o.Get("padToMultipleOf").IsUndefined())
      opts.padding.pad_to_multiple_of = static_cast<size_t>(GetNumber(o, "padToMultipleOf", 0));
    if (!o.Get("paddingSide").IsUndefined())
      opts.padding.direction = GetString(o, "paddingSide", "right") == "left" ? tok::Direction::kLeft : tok::Direction::kRight;
  }
  return opts;
}

template <class T, class ArrayT>
ArrayT CopyTo(Napi::Env env, const std::vector<T>& v) {
  ArrayT a = ArrayT::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}

// Offsets go to JS in UTF-16 code units (what JS strings index), as [start, end] pairs.
Napi::Object EncodingToJs(Napi::Env env, tok::Encoding& e, const std::string& a, const std::string* b) {
  // Convert each sequence's offsets with its own text.
  std::vector<std::pair<uint32_t, uint32_t>> first, second;
  for (size_t i = 0; i < e.size(); ++i) (e.sequence_ids[i] == 1 ? second : first).push_back(e.offsets[i]);
  tok::ByteOffsetsToUtf16(a, &first);
  if (b) tok::ByteOffsetsToUtf16(*b, &second);
  Napi::Uint32Array offsets = Napi::Uint32Array::New(env, e.size() * 2);
  size_t fi = 0, si = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    auto o = e.sequence_ids[i] == 1 ? second[si++] : first[fi++];
    if (e.sequence_ids[i] < 0) o = {0, 0};
    offsets[2 * i] = o.first;
    offsets[2 * i + 1] = o.second;
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("ids", CopyTo<int32_t, Napi::Int32Array>(env, e.ids));
  r.Set("typeIds", CopyTo<int32_t, Napi::Int32Array>(env, e.type_ids));
  r.Set("attentionMask", CopyTo<uint8_t, Napi::Uint8Array>(env, e.attention_mask));
  r.Set("specialTokensMask", CopyTo<uint8_t, Napi::Uint8Array>(env, e.special_tokens_mask));
  r.Set("offsets", offsets);
  Napi::Array seq = Napi::Array::New(env, e.size());
  for (size_t i = 0; i < e.size(); ++i)
    seq.Set(i, e.sequence_ids[i] < 0 ? env.Null() : Napi::Number::New(env, e.sequence_ids[i]));
  r.Set("sequenceIds", seq);
  if (!e.overflowing.empty()) {
    Napi::Array over = Napi::Array::New(env, e.overflowing.size());
    for (size_t i = 0; i < e.overflowing.size(); ++i) over.Set(i, EncodingToJs(env, e.overflowing[i], a, b));
    r.Set("overflowing", over);
  }
  return r;
}

}  // namespace

class TokenizerWrap : public ModelWrap<TokenizerWrap, tok::Tokenizer> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "NativeTokenizer",
                                   {StaticMethod("fromFile", &TokenizerWrap::FromFile),
                                    StaticMethod("fromJSON", &TokenizerWrap::FromJson),
                                    InstanceMethod("encode", &TokenizerWrap::Encode),
                                    InstanceMethod("encodeBatch", &TokenizerWrap::EncodeBatch),
                                    InstanceMethod("decode", &TokenizerWrap::Decode),
                                    InstanceMethod("tokenToId", &TokenizerWrap::TokenToId),
                                    InstanceMethod("idToToken", &TokenizerWrap::IdToToken),
                                    InstanceMethod("vocabSize", &TokenizerWrap::VocabSize),
                                    InstanceMethod("numSpecialTokensToAdd", &TokenizerWrap::NumSpecial),
                                    InstanceMethod("dispose", &TokenizerWrap::Dispose)});
    GetAddonData(env)->tokenizer = Napi::Persistent(f);
    exports.Set("NativeTokenizer", f);
  }

  using ModelWrap::ModelWrap;

 private:
  static Napi::Value FromFile(const Napi::CallbackInfo& info) {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "fromFile(path) needs a string path");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    return LoadAsync(info, &GetAddonData(info.Env())->tokenizer, [path]() { return tok::Tokenizer::FromFile(path); });
  }
  static Napi::Value FromJson(const Napi::CallbackInfo& info) {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "fromJSON(json) needs a string");
    std::string json = info[0].As<Napi::String>().Utf8Value();
    return LoadAsync(info, &GetAddonData(info.Env())->tokenizer, [json]() { return tok::Tokenizer::FromJson(json); });
  }

  // encode(text, pair|null, opts) -> encoding (synchronous)
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    std::string a = info[0].As<Napi::String>().Utf8Value();
    std::string b;
    const bool has_pair = info[1].IsString();
    if (has_pair) b = info[1].As<Napi::String>().Utf8Value();
    std::string_view bv(b);
    tok::Encoding e;
    Status st = core->Encode(a, has_pair ? &bv : nullptr, ReadEncodeOptions(info[2], *core), &e);
    if (!st.ok()) ThrowStatus(info.Env(), st);
    return EncodingToJs(info.Env(), e, a, has_pair ? &b : nullptr);
  }

  // encodeBatch(texts: string[], pairs: string[]|null, opts) -> Promise<encoding[]>
  Napi::Value EncodeBatch(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    auto texts = std::make_shared<std::vector<std::string>>(GetStringArray(info.Env(), info[0], "texts"));
    auto pairs = std::make_shared<std::vector<std::string>>();
    const bool has_pairs = info[1].IsArray();
    if (has_pairs) *pairs = GetStringArray(info.Env(), info[1], "pairs");
    if (has_pairs && pairs->size() != texts->size()) throw Napi::TypeError::New(info.Env(), "pair arrays differ in length");
    auto opts = ReadEncodeOptions(info[2], *core);
    int threads = 0;
    if (info[2].IsObject()) threads = static_cast<int>(GetNumber(info[2].As<Napi::Object>(), "threads", 0));
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    auto out = std::make_shared<std::vector<tok::Encoding>>();
    auto* w = MakeWorker(
        info.Env(),
        [core, texts, pairs, has_pairs, opts, out, threads](const pipelines::RunControl& control) -> Status {
          const size_t n = texts->size();
          out->resize(n);
          // Texts are spread over `threads` threads in chunks; the error reported is the first in input order.
          constexpr size_t kChunk = 32;
          std::unique_ptr<ThreadPool> pool;
          if (threads > 1 && n > kChunk) pool = std::make_unique<ThreadPool>(threads - 1);
          std::mutex mu;
          size_t error_at = n;
          Status error;
          std::atomic<bool> stop{false};
          auto encode_all = [&](const tok::EncodeOptions& o) {
            ParallelFor(pool.get(), n, kChunk, [&](size_t begin, size_t end) {
              for (size_t i = begin; i < end && !stop.load(std::memory_order_relaxed); ++i) {
                std::string_view bv = has_pairs ? std::string_view((*pairs)[i]) : std::string_view();
                Status st = core->Encode((*texts)[i], has_pairs ? &bv : nullptr, o, &(*out)[i]);
                if (!st.ok()) {
                  std::lock_guard<std::mutex> lock(mu);
                  if (i < error_at) error_at = i, error = st;
                  return;  // later texts of this chunk cannot come first; other chunks go on
                }
              }
              if (control.cancelled()) stop = true;
            });
          };
          encode_all(opts);
          if (control.cancelled()) return pipelines::Cancelled();
          if (!error.ok()) return error;
          // Batch padding: pad every encoding to the longest when padding is on without a length.
          if (opts.padding.enabled && opts.padding.length == 0 && n > 0) {
            size_t longest = 0;
            for (auto& e : *out) longest = std::max(longest, e.size());
            tok::EncodeOptions o2 = opts;
            o2.padding.length = longest;
            encode_all(o2);
            if (!error.ok()) return error;
          }
          return Status::Ok();
        },
        [texts, pairs, has_pairs, out](Napi::Env env) -> Napi::Value {
          Napi::Array a = Napi::Array::New(env, out->size());
          for (size_t i = 0; i < out->size(); ++i)
            a.Set(i, EncodingToJs(env, (*out)[i], (*texts)[i], has_pairs ? &(*pairs)[i] : nullptr));
          return a;
        });
    return StartCall(info, w, info[3]);
  }

  Napi::Value Decode(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    if (!info[0].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "decode(ids) needs an Int32Array");
    Napi::Int32Array ids = info[0].As<Napi::Int32Array>();
    bool skip = info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
    std::string out;
    Status st = core->Decode(ids.Data(), ids.ElementLength(), skip, &out);
    if (!st.ok()) ThrowStatus(info.Env(), st);
    return Napi::String::New(info.Env(), out);
  }

  Napi::Value TokenToId(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    auto id = core->TokenToId(info[0].As<Napi::String>().Utf8Value());
    return id ? Napi::Number::New(info.Env(), *id) : info.Env().Undefined();
  }
  Napi::Value IdToToken(const Napi::CallbackInfo& info) {
    auto core = CoreOrThrow(info.Env());
    auto t = core->IdToToken(info[0].As<Napi::Number>().Int32Value());
    return t ? Napi::String::New(info.Env(), *t) : info.Env().Undefined();
  }
  Napi::Value VocabSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(CoreOrThrow(info.Env())->VocabSize()));
  }
  Napi::Value NumSpecial(const Napi::CallbackInfo& info) {
    bool pair = info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value();
    return Napi::Number::New(info.Env(), static_cast<double>(CoreOrThrow(info.Env())->NumSpecialTokensToAdd(pair)));
  }
};

void InitTokenizer(Napi::Env env, Napi::Object exports) { TokenizerWrap::Init(env, exports); }

}  // namespace winnow::binding
