// libFuzzer harness for Winnow's tokenizer (issue #3). Built twice by fuzz/build.sh:
//
//   -DWINNOW_FUZZ_MODE=1  tokenizer_json_fuzzer:   input = a tokenizer.json candidate. FromJson must
//                         return a Status (never crash / leak / UB, whatever the nesting depth or
//                         padding values); when it loads, a few fixed strings are encoded (single,
//                         pair, truncation + stride, the file's padding, padding sizes up to and
//                         past the bound) and decoded.
//   -DWINNOW_FUZZ_MODE=2  tokenizer_encode_fuzzer: input = [selector byte][text](0xFF [pair]),
//                         encoded with each real tokenizer from $WINNOW_FUZZ_TOKENIZERS (default
//                         /work/shared/tokenizers/*/tokenizer.json, loaded once; those that fail to
//                         load are skipped), checking invariants the Rust `tokenizers` guarantees.
//
// An invariant violation calls abort() with a message, so libFuzzer saves the input as a crash.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

using winnow::tok::Direction;
using winnow::tok::Encoding;
using winnow::tok::EncodeOptions;
using winnow::tok::Tokenizer;
using winnow::tok::TruncationStrategy;

#ifndef WINNOW_FUZZ_MODE
#define WINNOW_FUZZ_MODE 2
#endif

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "INVARIANT VIOLATED: %s %s\n", what, detail.c_str());
  std::abort();
}
#define CHECK(cond, ...)                  \
  do {                                    \
    if (!(cond)) Fail(#cond, ##__VA_ARGS__); \
  } while (0)

// Replaces invalid UTF-8 (including encoded surrogates and overlongs) with U+FFFD, as the binding
// does for lone surrogates: EncodeRaw's contract requires valid UTF-8.
std::string SanitizeUtf8(const uint8_t* p, size_t n) {
  std::string out;
  out.reserve(n);
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) { out.push_back(static_cast<char>(c)); ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    bool ok = len != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (ok) {
      static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) ok = false;
    }
    if (ok) {
      out.append(reinterpret_cast<const char*>(p + i), len);
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

size_t Utf16Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) n += (c >= 0xF0) ? 2 : 1;
  }
  return n;
}

void CheckShape(const Encoding& e) {
  const size_t n = e.ids.size();
  CHECK(e.type_ids.size() == n);
  CHECK(e.special_tokens_mask.size() == n);
  CHECK(e.attention_mask.size() == n);
  CHECK(e.offsets.size() == n);
  CHECK(e.sequence_ids.size() == n);
  for (const Encoding& o : e.overflowing) CheckShape(o);
}

// Invariants of an EncodeRaw result for `text` (byte offsets).
void CheckRaw(const Tokenizer& t, const Encoding& e, std::string_view text, bool strict) {
  CheckShape(e);
  const size_t vocab = t.VocabSize();
  for (size_t i = 0; i < e.size(); ++i) {
    // ids < VocabSize only holds for sane vocabularies (HF counts entries, ids may have gaps).
    CHECK(e.ids[i] >= 0 && (!strict || static_cast<size_t>(e.ids[i]) < vocab), "id=" + std::to_string(e.ids[i]));
    CHECK(e.offsets[i].first <= e.offsets[i].second,
          std::to_string(e.offsets[i].first) + ">" + std::to_string(e.offsets[i].second));
    CHECK(e.offsets[i].second <= text.size(), std::to_string(e.offsets[i].second) + ">" + std::to_string(text.size()));
    CHECK(e.attention_mask[i] == 1);
  }
}

void CheckEncoded(const Tokenizer& t, const Encoding& e, bool strict) {
  CheckShape(e);
  const size_t vocab = t.VocabSize();
  for (size_t i = 0; i < e.size(); ++i) {
    // ids < VocabSize only holds for sane vocabularies (HF counts entries, ids may have gaps).
    CHECK(e.ids[i] >= 0 && (!strict || static_cast<size_t>(e.ids[i]) < vocab), "id=" + std::to_string(e.ids[i]));
    CHECK(e.offsets[i].first <= e.offsets[i].second);
    CHECK(e.sequence_ids[i] >= -1 && e.sequence_ids[i] <= 1);
  }
}

bool SameTokens(const Encoding& a, const Encoding& b) {
  if (a.ids != b.ids || a.type_ids != b.type_ids || a.offsets != b.offsets ||
      a.special_tokens_mask != b.special_tokens_mask || a.overflowing.size() != b.overflowing.size())
    return false;
  for (size_t i = 0; i < a.overflowing.size(); ++i)
    if (!SameTokens(a.overflowing[i], b.overflowing[i])) return false;
  return true;
}

void Exercise(const Tokenizer& t, std::string_view a, const std::string_view* b, uint8_t sel, bool strict) {
  // Raw encodings + determinism (the BPE/Unigram caches must not change results).
  Encoding ra, ra2, rb;
  winnow::Status st = t.EncodeRaw(a, &ra);
  if (!st.ok()) {
    if (strict) Fail("EncodeRaw failed", st.ToString());
    return;
  }
  CheckRaw(t, ra, a, strict);
  CHECK(t.EncodeRaw(a, &ra2).ok());
  CHECK(SameTokens(ra, ra2), "EncodeRaw not deterministic");
  if (b) {
    st = t.EncodeRaw(*b, &rb);
    if (!st.ok()) {
      if (strict) Fail("EncodeRaw(pair) failed", st.ToString());
      return;
    }
    CheckRaw(t, rb, *b, strict);
  }

  // Byte -> UTF-16 offsets stay within the text.
  {
    auto off = ra.offsets;
    winnow::tok::ByteOffsetsToUtf16(a, &off);
    const size_t u16 = Utf16Length(a);
    for (auto& [s, e] : off) CHECK(s <= e && e <= u16, "utf16 offsets");
  }

  // Encode with / without special tokens, with truncation + stride.
  for (int variant = 0; variant < 3; ++variant) {
    EncodeOptions o;
    o.add_special_tokens = variant != 1 ? ((sel >> 1) & 1) == 0 : false;
    const size_t n_special = o.add_special_tokens ? t.NumSpecialTokensToAdd(b != nullptr) : 0;
    if (variant == 2) {
      o.truncation.max_length = n_special + 1 + ((sel >> 2) & 15);
      o.truncation.stride = (sel >> 6) & 3;
      o.truncation.keep_overflowing = true;
      o.truncation.direction = (sel & 1) ? Direction::kLeft : Direction::kRight;
      o.truncation.strategy = b ? static_cast<TruncationStrategy>(sel % 3) : TruncationStrategy::kLongestFirst;
    }
    Encoding e;
    st = t.Encode(a, b, o, &e);
    if (!st.ok()) {
      // Truncation that cannot be satisfied (stride too large, only_second without enough room...)
      // is a legitimate error; plain encoding is not.
      if (strict && variant != 2) Fail("Encode failed", st.ToString());
      continue;
    }
    CheckEncoded(t, e, strict);
    if (variant != 2) {
      CHECK(e.size() == ra.size() + (b ? rb.size() : 0) + n_special,
            std::to_string(e.size()) + " vs " + std::to_string(ra.size()) + "+" + std::to_string(rb.size()) + "+" +
                std::to_string(n_special));
    } else {
      CHECK(e.size() <= o.truncation.max_length, std::to_string(e.size()));
      // (HF: a pair member truncated to 0 tokens moves whole into overflowing, so only singles.)
      if (!b)
        for (const Encoding& ov : e.overflowing)
          CHECK(ov.size() <= o.truncation.max_length,
              "overflow window " + std::to_string(ov.size()) + " > max_length " + std::to_string(o.truncation.max_length) +
                  " (stride " + std::to_string(o.truncation.stride) + ", pair " + std::to_string(b != nullptr) +
                  ", strategy " + std::to_string(int(o.truncation.strategy)) + ", special " + std::to_string(n_special) + ")");
    }
    // Contract: Encode(a, b) == PostProcess(EncodeRaw(a), EncodeRaw(b)).
    Encoding pa = ra, pb = rb, pp;
    if (t.PostProcess(std::move(pa), b ? &pb : nullptr, o, &pp).ok()) CHECK(SameTokens(e, pp), "Encode != PostProcess(EncodeRaw)");
    std::string decoded;
    (void)t.Decode(e.ids.data(), e.ids.size(), (sel >> 3) & 1, &decoded);
  }
  // Padding: a target within the bound pads to exactly the rounded target; beyond it (or a multiple
  // beyond it) the call fails with INVALID_ARGUMENT before allocating anything.
  {
    static constexpr size_t kMax = winnow::tok::kMaxLengthSetting;
    const size_t lengths[] = {0, ra.size() + 3, kMax + 1, SIZE_MAX, sel == 0x40 ? kMax : 5};
    const size_t multiples[] = {0, 8, kMax + 1, 3};
    EncodeOptions o;
    o.padding.enabled = true;
    o.padding.length = lengths[sel % 5];
    o.padding.pad_to_multiple_of = multiples[(sel >> 3) % 4];
    o.padding.direction = (sel & 0x80) ? Direction::kLeft : Direction::kRight;
    Encoding e;
    st = t.Encode(a, b, o, &e);
    if (o.padding.length > kMax || o.padding.pad_to_multiple_of > kMax) {
      CHECK(!st.ok() && st.code() == winnow::codes::kInvalidArgument, "padding beyond the bound: " + st.ToString());
    } else if (st.ok()) {
      const size_t n = ra.size() + (b ? rb.size() : 0) + t.NumSpecialTokensToAdd(b != nullptr);
      size_t target = o.padding.length ? o.padding.length : n;
      const size_t m = o.padding.pad_to_multiple_of;
      if (m > 0 && target % m > 0) target += m - target % m;
      CheckEncoded(t, e, strict);
      CHECK(e.size() == std::max(n, target), std::to_string(e.size()) + " vs " + std::to_string(std::max(n, target)));
    } else if (strict) {
      Fail("padded Encode failed", st.ToString());
    }
  }
  for (size_t i = 0; i < ra.size() && i < 8; ++i) {
    auto tok = t.IdToToken(ra.ids[i]);
    if (tok) (void)t.TokenToId(*tok);
  }
}

}  // namespace

#if WINNOW_FUZZ_MODE == 1

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto t = Tokenizer::FromJson(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!t.ok()) {
    CHECK(!t.status().code().empty());
    return 0;
  }
  const Tokenizer& tok = **t;
  (void)tok.VocabSize();
  (void)tok.UnkId();
  // Values from the file are bounded at load.
  if (auto p = tok.DefaultPadding()) {
    CHECK(p->length <= winnow::tok::kMaxLengthSetting && p->pad_to_multiple_of <= winnow::tok::kMaxLengthSetting);
    EncodeOptions o;
    o.padding = *p;
    Encoding e;
    if (tok.Encode("padded", nullptr, o, &e).ok()) CheckShape(e);
  }
  if (auto tr = tok.DefaultTruncation()) CHECK(tr->max_length <= winnow::tok::kMaxLengthSetting);
  static const char* kTexts[] = {
      "Hello world! unaffable",
      "  Ünïcödé ﬁ 東京 naïve — “quotes” 👩‍👩‍👧 ",
      "[CLS] hello [SEP] <s> </s> <unk> [MASK]",
      "",
  };
  std::string_view pair = "second segment, with 123 numbers";
  for (const char* s : kTexts) {
    // Mutated configurations may legitimately fail to encode (missing unk...): not strict.
    Exercise(tok, s, nullptr, 0x15, false);
    Exercise(tok, s, &pair, 0xA6, false);
  }
  return 0;
}

#else

namespace {
struct Loaded {
  std::string name;
  std::unique_ptr<Tokenizer> tok;
};
std::vector<Loaded>* g_toks = nullptr;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_toks = new std::vector<Loaded>();
  std::string dir = "/work/shared/tokenizers";
  if (const char* e = std::getenv("WINNOW_FUZZ_TOKENIZERS")) dir = e;
  std::vector<std::string> paths;
  std::error_code ec;
  for (const auto& ent : std::filesystem::directory_iterator(dir, ec)) {
    auto p = ent.path() / "tokenizer.json";
    if (std::filesystem::exists(p)) paths.push_back(p.string());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    auto t = Tokenizer::FromFile(p);
    if (t.ok()) {
      g_toks->push_back({p, std::move(t).value()});
      std::fprintf(stderr, "[fuzz] loaded %s\n", p.c_str());
    } else {
      std::fprintf(stderr, "[fuzz] skipped %s: %s\n", p.c_str(), t.status().ToString().c_str());
    }
  }
  if (g_toks->empty()) {
    std::fprintf(stderr, "[fuzz] no tokenizer loaded from %s\n", dir.c_str());
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t sel = data[0];
  ++data;
  --size;
  // Text and optional pair are separated by the first 0xFF byte (never valid UTF-8).
  const uint8_t* sep = static_cast<const uint8_t*>(std::memchr(data, 0xFF, size));
  std::string a = SanitizeUtf8(data, sep ? static_cast<size_t>(sep - data) : size);
  std::string b;
  if (sep) b = SanitizeUtf8(sep + 1, size - static_cast<size_t>(sep + 1 - data));
  std::string_view bv = b;
  for (const Loaded& l : *g_toks) Exercise(*l.tok, a, sep ? &bv : nullptr, sel, /*strict=*/true);
  return 0;
}

#endif
