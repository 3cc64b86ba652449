#include <napi.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <new>
#include <sstream>
#include <memory>
#include <mutex>
#include <thread>

#include "addon_data.h"
#include "common/thread_pool.h"
#include "model_wrap.h"
#include "tokenizer/post_processors.h"
#include "tokenizer/slow/folder.h"
#include "tokenizer/tokenizer.h"

namespace winnow::binding {

namespace {

// Runs a synchronous entry point so that no C++ exception but a Napi::Error (already a JS error)
// leaves it: an allocation failure or another std exception becomes a coded error, not std::terminate.
template <class Fn>
Napi::Value WithCodedErrors(Napi::Env env, Fn&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    ThrowStatus(env, Status(codes::kInternal, "out of memory"));
  } catch (const std::exception& e) {
    ThrowStatus(env, Status(codes::kInternal, e.what()));
  }
}

// A token count option. lib/tokenizer.ts validated it already; checked again before the cast (a double
// out of size_t's range does not convert) against the core's bound.
size_t GetCount(const Napi::Object& o, const char* key) {
  const double d = GetNumber(o, key, 0);
  if (!(d >= 0 && d <= static_cast<double>(tok::kMaxLengthSetting) && d == std::floor(d))) {
    std::ostringstream v;
    v << d;
    ThrowStatus(o.Env(), Status(codes::kInvalidArgument, "Expected an integer between 0 and " +
                                                             std::to_string(tok::kMaxLengthSetting) + " for " + key +
                                                             " but received " + v.str() + " of type number"));
  }
  return static_cast<size_t>(d);
}

tok::EncodeOptions ReadEncodeOptions(const Napi::Value& v, const tok::Tokenizer& t) {
  tok::EncodeOptions opts;
  if (!v.IsObject()) return opts;
  Napi::Object o = v.As<Napi::Object>();
  opts.add_special_tokens = GetBool(o, "addSpecialTokens", true);
  opts.truncation.max_length = GetCount(o, "maxLength");
  std::string strategy = GetString(o, "truncation", "longest_first");
  opts.truncation.strategy = strategy == "only_first"    ? tok::TruncationStrategy::kOnlyFirst
                             : strategy == "only_second" ? tok::TruncationStrategy::kOnlySecond
                                                         : tok::TruncationStrategy::kLongestFirst;
  opts.truncation.direction = GetString(o, "truncationSide", "right") == "left" ? tok::Direction::kLeft : tok::Direction::kRight;
  opts.truncation.stride = GetCount(o, "stride");
  opts.truncation.keep_overflowing = GetBool(o, "returnOverflowing", false);
  Napi::Value padding = o.Get("padding");
  if (padding.IsBoolean() && padding.As<Napi::Boolean>().Value()) {
    opts.padding.enabled = true;
    if (auto def = t.DefaultPadding()) opts.padding = *def;
    opts.padding.enabled = true;
    // Explicit options win over the file's `padding` section (pad id / type id always come from it).
    if (!o.Get("padToLength").IsUndefined()) opts.padding.length = GetCount(o, "padToLength");
    if (!o.Get("padToMultipleOf").IsUndefined()) opts.padding.pad_to_multiple_of = GetCount(o, "padToMultipleOf");
    if (!o.Get("paddingSide").IsUndefined())
      opts.padding.direction = GetString(o, "paddingSide", "right") == "left" ? tok::Direction::kLeft : tok::Direction::kRight;
  }
  return opts;
}

// Offsets go to JS in UTF-16 code units (what JS strings index), as [start, end] pairs. Converted on the
// thread that encoded (each sequence's offsets against its own text); special tokens get (0, 0).
void ToUtf16Offsets(tok::Encoding* e, const std::string& a, const std::string* b) {
  std::vector<std::pair<uint32_t, uint32_t>> first, second;
  for (size_t i = 0; i < e->size(); ++i) (e->sequence_ids[i] == 1 ? second : first).push_back(e->offsets[i]);
  tok::ByteOffsetsToUtf16(a, &first);
  if (b) tok::ByteOffsetsToUtf16(*b, &second);
  size_t fi = 0, si = 0;
  for (size_t i = 0; i < e->size(); ++i) {
    auto o = e->sequence_ids[i] == 1 ? second[si++] : first[fi++];
    e->offsets[i] = e->sequence_ids[i] < 0 ? std::pair<uint32_t, uint32_t>{0, 0} : o;
  }
  for (auto& over : e->overflowing) ToUtf16Offsets(&over, a, b);
}

// Builds the JS encodings of one call. Every typed array is a view into one ArrayBuffer (one allocation
// per call instead of six per text); `sequenceIds` comes out as an Int8Array (-1 = null) that
// lib/tokenizer.ts turns into the public (number | null)[] in JavaScript, far cheaper than element-wise
// N-API sets.
class EncodingsToJs {
 public:
  EncodingsToJs(Napi::Env env, const std::vector<const tok::Encoding*>& roots)
      : env_(env),
        k_ids_(Napi::String::New(env, "ids")),
        k_type_ids_(Napi::String::New(env, "typeIds")),
        k_mask_(Napi::String::New(env, "attentionMask")),
        k_special_(Napi::String::New(env, "specialTokensMask")),
        k_offsets_(Napi::String::New(env, "offsets")),
        k_seq_(Napi::String::New(env, "sequenceIds")),
        k_over_(Napi::String::New(env, "overflowing")) {
    size_t tokens = 0;
    for (const tok::Encoding* e : roots) tokens += Count(*e);
    // [ids | typeIds | offsets x2] as 32-bit values, then [attentionMask | specialTokensMask | sequenceIds] bytes.
    buffer_ = Napi::ArrayBuffer::New(env, std::max<size_t>(tokens * 19, 1));
    words_ = static_cast<uint32_t*>(buffer_.Data());
    bytes_at_ = tokens * 16;
    bytes_ = static_cast<uint8_t*>(buffer_.Data()) + bytes_at_;
  }

  Napi::Object Build(const tok::Encoding& e) {
    const size_t n = e.size();
    const size_t w = word_pos_, b = byte_pos_;
    std::memcpy(words_ + w, e.ids.data(), n * 4);
    std::memcpy(words_ + w + n, e.type_ids.data(), n * 4);
    for (size_t i = 0; i < n; ++i) {
      words_[w + 2 * n + 2 * i] = e.offsets[i].first;
      words_[w + 2 * n + 2 * i + 1] = e.offsets[i].second;
    }
    std::memcpy(bytes_ + b, e.attention_mask.data(), n);
    std::memcpy(bytes_ + b + n, e.special_tokens_mask.data(), n);
    for (size_t i = 0; i < n; ++i) bytes_[b + 2 * n + i] = static_cast<uint8_t>(static_cast<int8_t>(e.sequence_ids[i]));
    word_pos_ += 4 * n;
    byte_pos_ += 3 * n;
    Napi::Object r = Napi::Object::New(env_);
    r.Set(k_ids_, Napi::Int32Array::New(env_, n, buffer_, 4 * w));
    r.Set(k_type_ids_, Napi::Int32Array::New(env_, n, buffer_, 4 * (w + n)));
    r.Set(k_mask_, Napi::Uint8Array::New(env_, n, buffer_, bytes_at_ + b));
    r.Set(k_special_, Napi::Uint8Array::New(env_, n, buffer_, bytes_at_ + b + n));
    r.Set(k_offsets_, Napi::Uint32Array::New(env_, 2 * n, buffer_, 4 * (w + 2 * n)));
    r.Set(k_seq_, Napi::Int8Array::New(env_, n, buffer_, bytes_at_ + b + 2 * n));
    if (!e.overflowing.empty()) {
      Napi::Array over = Napi::Array::New(env_, e.overflowing.size());
      for (size_t i = 0; i < e.overflowing.size(); ++i) over.Set(i, Build(e.overflowing[i]));
      r.Set(k_over_, over);
    }
    return r;
  }

 private:
  static size_t Count(const tok::Encoding& e) {
    size_t n = e.size();
    for (const auto& o : e.overflowing) n += Count(o);
    return n;
  }
  Napi::Env env_;
  Napi::String k_ids_, k_type_ids_, k_mask_, k_special_, k_offsets_, k_seq_, k_over_;
  Napi::ArrayBuffer buffer_;
  uint32_t* words_ = nullptr;  // the 32-bit region starts the buffer
  uint8_t* bytes_ = nullptr;   // the byte region, at bytes_at_
  size_t bytes_at_ = 0;
  size_t word_pos_ = 0, byte_pos_ = 0;
};

}  // namespace

class TokenizerWrap : public ModelWrap<TokenizerWrap, tok::Tokenizer> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "NativeTokenizer",
                                   {StaticMethod("fromFile", &Static<&TokenizerWrap::FromFile>),
                                    StaticMethod("fromJSON", &Static<&TokenizerWrap::FromJson>),
                                    StaticMethod("load", &Static<&TokenizerWrap::LoadFolder>),
                                    InstanceMethod("encode", &TokenizerWrap::Method<&TokenizerWrap::Encode>),
                                    InstanceMethod("encodeBatch", &TokenizerWrap::Method<&TokenizerWrap::EncodeBatch>),
                                    InstanceMethod("decode", &TokenizerWrap::Method<&TokenizerWrap::Decode>),
                                    InstanceMethod("tokenToId", &TokenizerWrap::Method<&TokenizerWrap::TokenToId>),
                                    InstanceMethod("idToToken", &TokenizerWrap::Method<&TokenizerWrap::IdToToken>),
                                    InstanceMethod("vocabSize", &TokenizerWrap::Method<&TokenizerWrap::VocabSize>),
                                    InstanceMethod("numSpecialTokensToAdd", &TokenizerWrap::Method<&TokenizerWrap::NumSpecial>),
                                    InstanceMethod("dispose", &TokenizerWrap::Method<&TokenizerWrap::Dispose>)});
    GetAddonData(env)->tokenizer = Napi::Persistent(f);
    exports.Set("NativeTokenizer", f);
  }

  using ModelWrap::ModelWrap;

 private:
  // Every entry point is registered through these, so none lets a C++ exception reach node-addon-api.
  template <auto M>
  Napi::Value Method(const Napi::CallbackInfo& info) {
    return WithCodedErrors(info.Env(), [&] { return (this->*M)(info); });
  }
  template <auto F>
  static Napi::Value Static(const Napi::CallbackInfo& info) {
    return WithCodedErrors(info.Env(), [&] { return F(info); });
  }

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

  // load(dir, { mecabDictionary }) -> Promise<NativeTokenizer>: tokenizer.json, or the folder's slow files.
  static Napi::Value LoadFolder(const Napi::CallbackInfo& info) {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "load(dir, options) needs a string folder path");
    std::string dir = info[0].As<Napi::String>().Utf8Value();
    tok::FolderOptions options;
    if (info[1].IsObject()) options.mecab_dictionary = GetString(info[1].As<Napi::Object>(), "mecabDictionary");
    return LoadAsync(info, &GetAddonData(info.Env())->tokenizer,
                     [dir, options]() { return tok::LoadTokenizerFolder(dir, options); });
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
    ToUtf16Offsets(&e, a, has_pair ? &b : nullptr);
    return EncodingsToJs(info.Env(), {&e}).Build(e);
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
          ParallelFor(pool.get(), n, kChunk, [&](size_t begin, size_t end) {
            for (size_t i = begin; i < end && !stop.load(std::memory_order_relaxed); ++i) {
              std::string_view bv = has_pairs ? std::string_view((*pairs)[i]) : std::string_view();
              Status st = core->Encode((*texts)[i], has_pairs ? &bv : nullptr, opts, &(*out)[i]);
              if (!st.ok()) {
                std::lock_guard<std::mutex> lock(mu);
                if (i < error_at) error_at = i, error = st;
                return;  // later texts of this chunk cannot come first; other chunks go on
              }
              ToUtf16Offsets(&(*out)[i], (*texts)[i], has_pairs ? &(*pairs)[i] : nullptr);
            }
            if (control.cancelled()) stop = true;
          });
          if (control.cancelled()) return pipelines::Cancelled();
          if (!error.ok()) return error;
          // Batch padding: with padding on and no length, each encoding came back padded to its own length
          // (rounded to pad_to_multiple_of); pad them all on to the longest, overflowing windows included.
          if (opts.padding.enabled && opts.padding.length == 0) {
            size_t longest = 0;
            for (auto& e : *out) longest = std::max(longest, e.size());
            for (auto& e : *out)
              tok::PadEncoding(&e, longest, opts.padding.pad_id, opts.padding.pad_type_id, opts.padding.direction);
          }
          return Status::Ok();
        },
        [out](Napi::Env env) -> Napi::Value {
          std::vector<const tok::Encoding*> roots(out->size());
          for (size_t i = 0; i < out->size(); ++i) roots[i] = &(*out)[i];
          EncodingsToJs build(env, roots);
          Napi::Array a = Napi::Array::New(env, out->size());
          for (size_t i = 0; i < out->size(); ++i) a.Set(i, build.Build((*out)[i]));
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
