// Tokenizer framework + WordPiece family. A ten-piece vocabulary is built inline (STYLE.md #14);
// the real BERT files are used for a few spot checks against values taken from tokenizers@0.23.2.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include <nlohmann/json.hpp>

#include "tokenizer/normalized_string.h"

namespace winnow::tok {
namespace {

using json = nlohmann::json;
using Offsets = std::vector<std::pair<uint32_t, uint32_t>>;

json TenPieceJson() {
  return json::parse(R"({
    "version": "1.0",
    "added_tokens": [
      {"id": 0, "content": "[PAD]", "special": true, "normalized": false, "single_word": false, "lstrip": false, "rstrip": false},
      {"id": 1, "content": "[UNK]", "special": true, "normalized": false, "single_word": false, "lstrip": false, "rstrip": false},
      {"id": 2, "content": "[CLS]", "special": true, "normalized": false, "single_word": false, "lstrip": false, "rstrip": false},
      {"id": 3, "content": "[SEP]", "special": true, "normalized": false, "single_word": false, "lstrip": false, "rstrip": false}
    ],
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
      "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
               {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
      "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
      "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5, "un": 6, "##aff": 7, "##able": 8, "!": 9}}
  })");
}

std::unique_ptr<Tokenizer> Load(const json& j) {
  auto t = Tokenizer::FromJson(j.dump());
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

Encoding Enc(const Tokenizer& t, std::string_view a, const std::string_view* b = nullptr, EncodeOptions o = {}) {
  Encoding e;
  Status st = t.Encode(a, b, o, &e);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return e;
}

TEST(Tokenizer, TenPieceWordPieceSingle) {
  auto t = Load(TenPieceJson());
  Encoding e = Enc(*t, "Hello unaffable  World!");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 6, 7, 8, 5, 9, 3}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 5}, {6, 8}, {8, 11}, {11, 15}, {17, 22}, {22, 23}, {0, 0}}));
  EXPECT_EQ(e.special_tokens_mask, (std::vector<uint8_t>{1, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(e.type_ids, (std::vector<int32_t>(8, 0)));
  EXPECT_EQ(e.attention_mask, (std::vector<uint8_t>(8, 1)));
  EXPECT_EQ(e.sequence_ids, (std::vector<int8_t>{-1, 0, 0, 0, 0, 0, 0, -1}));
  EXPECT_EQ(t->NumSpecialTokensToAdd(false), 2u);
  EXPECT_EQ(t->NumSpecialTokensToAdd(true), 3u);
  EXPECT_EQ(t->VocabSize(), 10u);
  EXPECT_EQ(t->UnkId(), 1);
  EXPECT_EQ(t->TokenToId("##aff"), 7);
  EXPECT_EQ(t->IdToToken(8), "##able");
  EXPECT_FALSE(t->TokenToId("nope").has_value());
}

TEST(Tokenizer, UnknownWordsAndAccentsMapBackToOriginalBytes) {
  auto t = Load(TenPieceJson());
  // "Héllo" normalizes to "hello" (accent stripped): one token spanning the 6 original bytes.
  Encoding e = Enc(*t, "H\xC3\xA9llo xyz");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 1, 3}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 6}, {7, 10}, {0, 0}}));
  // CJK chars are isolated; control chars vanish; offsets stay in original bytes.
  Encoding c = Enc(*t, "\x01hello\xE4\xB8\x96!");
  EXPECT_EQ(c.ids, (std::vector<int32_t>{2, 4, 1, 9, 3}));
  EXPECT_EQ(c.offsets, (Offsets{{0, 0}, {1, 6}, {6, 9}, {9, 10}, {0, 0}}));
}

TEST(Tokenizer, AddedTokensInTextAreMatchedOnRawText) {
  auto t = Load(TenPieceJson());
  Encoding e = Enc(*t, "hello[SEP]world");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 3, 5, 3}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 5}, {5, 10}, {10, 15}, {0, 0}}));
  // Special added tokens found in the text are not flagged in the mask (HF behaviour).
  EXPECT_EQ(e.special_tokens_mask, (std::vector<uint8_t>{1, 0, 0, 0, 1}));
}

TEST(Tokenizer, AddedTokenOptionsAndNewIds) {
  json j = TenPieceJson();
  j["added_tokens"].push_back({{"id", 10}, {"content", "<ent>"}, {"special", false}, {"normalized", true},
                               {"single_word", true}, {"lstrip", true}, {"rstrip", false}});
  j["added_tokens"].push_back({{"id", 11}, {"content", "WORLD"}, {"special", false}, {"normalized", true},
                               {"single_word", false}, {"lstrip", false}, {"rstrip", true}});
  auto t = Load(j);
  EXPECT_EQ(t->VocabSize(), 12u);
  EXPECT_EQ(t->TokenToId("<ent>"), 10);
  // "WORLD" is normalized (lowercased) before matching, so it matches "world"; rstrip eats the spaces.
  EncodeOptions no_special;
  no_special.add_special_tokens = false;
  Encoding e = Enc(*t, "hello  <ent> World  !", nullptr, no_special);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{4, 10, 11, 9}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 5}, {5, 12}, {13, 20}, {20, 21}}));
  // single_word: not matched inside a word.
  Encoding w = Enc(*t, "x<ent>", nullptr, no_special);
  EXPECT_EQ(w.ids, (std::vector<int32_t>{1, 1, 1, 1}));
}

TEST(Tokenizer, PairTemplateTypeIdsAndOffsets) {
  auto t = Load(TenPieceJson());
  std::string_view b = "world!";
  Encoding e = Enc(*t, "hello", &b);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 3, 5, 9, 3}));
  EXPECT_EQ(e.type_ids, (std::vector<int32_t>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 5}, {0, 0}, {0, 5}, {5, 6}, {0, 0}}));
  EXPECT_EQ(e.special_tokens_mask, (std::vector<uint8_t>{1, 0, 1, 0, 0, 1}));
  EXPECT_EQ(e.sequence_ids, (std::vector<int8_t>{-1, 0, -1, 1, 1, -1}));
  // EncodeRaw + PostProcess == Encode.
  Encoding ra, rb, joined;
  ASSERT_TRUE(t->EncodeRaw("hello", &ra).ok());
  ASSERT_TRUE(t->EncodeRaw(b, &rb).ok());
  ASSERT_TRUE(t->PostProcess(ra, &rb, EncodeOptions{}, &joined).ok());
  EXPECT_EQ(joined.ids, e.ids);
  EXPECT_EQ(joined.type_ids, e.type_ids);
  EXPECT_EQ(joined.offsets, e.offsets);
  // Without special tokens the pair keeps type id 1.
  EncodeOptions o;
  o.add_special_tokens = false;
  Encoding n = Enc(*t, "hello", &b, o);
  EXPECT_EQ(n.ids, (std::vector<int32_t>{4, 5, 9}));
  EXPECT_EQ(n.type_ids, (std::vector<int32_t>{0, 1, 1}));
}

TEST(Tokenizer, TruncationWithStrideProducesOverflowingWindows) {
  auto t = Load(TenPieceJson());
  EncodeOptions o;
  o.truncation.max_length = 5;  // 3 tokens + [CLS] [SEP]
  o.truncation.stride = 1;
  o.truncation.keep_overflowing = true;
  Encoding e = Enc(*t, "hello world un hello world", nullptr, o);  // 5 tokens: 4 5 6 4 5
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 5, 6, 3}));
  // Windows of 3 content tokens advancing by 3 - stride = 2: [0,3) then [2,5).
  ASSERT_EQ(e.overflowing.size(), 1u);
  EXPECT_EQ(e.overflowing[0].ids, (std::vector<int32_t>{2, 6, 4, 5, 3}));
  EXPECT_EQ(e.overflowing[0].special_tokens_mask, (std::vector<uint8_t>{1, 0, 0, 0, 1}));
  // Left direction keeps the end.
  o.truncation.direction = Direction::kLeft;
  o.truncation.stride = 0;
  Encoding l = Enc(*t, "hello world un hello world", nullptr, o);
  EXPECT_EQ(l.ids, (std::vector<int32_t>{2, 6, 4, 5, 3}));
  // Stride must stay below the room left after special tokens.
  o.truncation.stride = 3;
  Encoding bad;
  Status st = t->Encode("hello world un hello world", nullptr, o, &bad);
  EXPECT_EQ(st.code(), codes::kInvalidArgument);
}

// tokenizers 0.23 stops a sequence after the pre-token that reaches max_length tokens (special
// tokens not deducted) before truncating, so overflowing windows end there. Values from 0.23.2.
TEST(Tokenizer, TruncationStopsAtMaxLengthBeforeWindowing) {
  auto t = Load(TenPieceJson());
  EncodeOptions o;
  o.truncation.max_length = 5;
  o.truncation.stride = 1;
  o.truncation.keep_overflowing = true;
  // 8 tokens (4 5 6 7 8 4 5 4); "unaffable" ends at token 5 >= 5: windows over the first 5 only.
  Encoding e = Enc(*t, "hello world unaffable hello world hello", nullptr, o);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 5, 6, 3}));
  ASSERT_EQ(e.overflowing.size(), 1u);
  EXPECT_EQ(e.overflowing[0].ids, (std::vector<int32_t>{2, 6, 7, 8, 3}));
  // EncodeRaw + PostProcess gives the same (the split boundaries travel with the raw encoding).
  Encoding raw, joined;
  ASSERT_TRUE(t->EncodeRaw("hello world unaffable hello world hello", &raw).ok());
  ASSERT_TRUE(t->PostProcess(raw, nullptr, o, &joined).ok());
  EXPECT_EQ(joined.ids, e.ids);
  ASSERT_EQ(joined.overflowing.size(), 1u);
  EXPECT_EQ(joined.overflowing[0].ids, e.overflowing[0].ids);
}

// Pair windows: every combination, in Encoding::merge_with order, with the template around each.
TEST(Tokenizer, PairOverflowingWindowsFollowMergeOrder) {
  auto t = Load(TenPieceJson());
  EncodeOptions o;
  o.truncation.max_length = 7;
  o.truncation.stride = 1;
  o.truncation.keep_overflowing = true;
  std::string_view b = "world hello world";
  Encoding e = Enc(*t, "hello world un hello", &b, o);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 5, 3, 5, 4, 3}));
  const std::vector<std::vector<int32_t>> want = {{2, 5, 6, 3, 5, 4, 3}, {2, 5, 6, 3, 4, 5, 3}, {2, 6, 4, 3, 5, 4, 3},
                                                  {2, 6, 4, 3, 4, 5, 3}, {2, 4, 5, 3, 4, 5, 3}};
  ASSERT_EQ(e.overflowing.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(e.overflowing[i].ids, want[i]) << i;
    EXPECT_EQ(e.overflowing[i].type_ids, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1})) << i;
  }
}

TEST(Tokenizer, PairTruncationStrategies) {
  auto t = Load(TenPieceJson());
  std::string_view b = "world world world world";
  EncodeOptions o;
  o.truncation.max_length = 7;  // 4 tokens of content
  Encoding e = Enc(*t, "hello hello hello", &b, o);
  // longest_first: 3 + 4 -> 2 + 2
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 4, 3, 5, 5, 3}));
  o.truncation.strategy = TruncationStrategy::kOnlySecond;
  e = Enc(*t, "hello hello hello", &b, o);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 4, 4, 3, 5, 3}));
  o.truncation.strategy = TruncationStrategy::kOnlyFirst;
  Encoding bad;
  EXPECT_EQ(t->Encode("hello hello hello", &b, o, &bad).code(), codes::kInvalidArgument);
}

TEST(Tokenizer, Padding) {
  auto t = Load(TenPieceJson());
  EncodeOptions o;
  o.padding.enabled = true;
  o.padding.pad_to_multiple_of = 4;
  o.padding.pad_id = 0;
  Encoding e = Enc(*t, "hello world", nullptr, o);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 5, 3}));
  e = Enc(*t, "hello world!", nullptr, o);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 5, 9, 3, 0, 0, 0}));
  EXPECT_EQ(e.attention_mask, (std::vector<uint8_t>{1, 1, 1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(e.special_tokens_mask, (std::vector<uint8_t>{1, 0, 0, 0, 1, 1, 1, 1}));
  o.padding.direction = Direction::kLeft;
  o.padding.length = 6;
  o.padding.pad_to_multiple_of = 0;
  o.padding.pad_type_id = 1;
  e = Enc(*t, "hello", nullptr, o);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{0, 0, 0, 2, 4, 3}));
  EXPECT_EQ(e.type_ids, (std::vector<int32_t>{1, 1, 1, 0, 0, 0}));
}

TEST(Tokenizer, Decode) {
  auto t = Load(TenPieceJson());
  std::vector<int32_t> ids{2, 4, 6, 7, 8, 9, 3};
  std::string s;
  ASSERT_TRUE(t->Decode(ids.data(), ids.size(), true, &s).ok());
  EXPECT_EQ(s, "hello unaffable!");
  ASSERT_TRUE(t->Decode(ids.data(), ids.size(), false, &s).ok());
  EXPECT_EQ(s, "[CLS] hello unaffable! [SEP]");
}

TEST(Tokenizer, ByteOffsetsToUtf16) {
  std::string text = "a\xC3\xA9\xF0\x9F\x98\x80" "b";  // a é 😀 b
  Offsets o{{0, 1}, {1, 3}, {3, 7}, {7, 8}, {0, 0}};
  ByteOffsetsToUtf16(text, &o);
  EXPECT_EQ(o, (Offsets{{0, 1}, {1, 2}, {2, 4}, {4, 5}, {0, 0}}));
}

// Offsets out of order and inside chars (byte-level tokens of one char all span it) convert as a
// fresh scan from the text start converts each one.
TEST(Tokenizer, ByteOffsetsToUtf16OutOfOrderEqualsFreshScans) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += i % 3 == 0 ? "\xF0\x9F\x98\x80" : i % 3 == 1 ? "\xE2\x80\x8D" : "a\xC3\xA9";
  auto fresh = [&](uint32_t b) {
    uint32_t u = 0;
    size_t p = 0;
    while (p < b && p < text.size()) {
      const unsigned char c = static_cast<unsigned char>(text[p]);
      const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      if (p + n > b) break;
      u += n == 4 ? 2 : 1;
      p += n;
    }
    return u;
  };
  Offsets o, want;
  uint32_t seed = 12345;
  for (int i = 0; i < 2000; ++i) {
    seed = seed * 1103515245u + 12345u;
    const uint32_t a = (seed >> 8) % (text.size() + 1);
    seed = seed * 1103515245u + 12345u;
    const uint32_t b = a + (seed >> 8) % 9;
    const uint32_t e = std::min<uint32_t>(b, static_cast<uint32_t>(text.size()));
    o.emplace_back(a, e);
    want.emplace_back(fresh(a), fresh(e));
  }
  ByteOffsetsToUtf16(text, &o);
  EXPECT_EQ(o, want);
}

struct ErrorCase {
  const char* name;
  std::function<void(json&)> mutate;
  const char* code;
  const char* message_prefix;
};

TEST(Tokenizer, MalformedJsonReportsCodeAndPath) {
  const std::vector<ErrorCase> cases = {
      {"vocab not an object", [](json& j) { j["model"]["vocab"] = 3; }, codes::kTokenizerInvalid, "model.vocab: expected an object"},
      {"vocab id negative", [](json& j) { j["model"]["vocab"]["hello"] = -4; }, codes::kTokenizerInvalid, "model.vocab[\"hello\"]: expected a token id"},
      {"vocab id too large", [](json& j) { j["model"]["vocab"]["hello"] = 1ll << 40; }, codes::kTokenizerInvalid, "model.vocab[\"hello\"]: expected a token id"},
      {"missing model", [](json& j) { j.erase("model"); }, codes::kTokenizerInvalid, "model: missing"},
      {"unknown model", [](json& j) { j["model"]["type"] = "Magic"; }, codes::kTokenizerUnsupported, "model.type = \"Magic\""},
      {"unk token type", [](json& j) { j["model"]["unk_token"] = 5; }, codes::kTokenizerInvalid, "model.unk_token: expected a string"},
      {"unknown normalizer in sequence",
       [](json& j) { j["normalizer"] = json::parse(R"({"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Lowercase"},{"type":"Foo"}]})"); },
       codes::kTokenizerUnsupported, "normalizer.normalizers[2].type = \"Foo\""},
      {"normalizer bool", [](json& j) { j["normalizer"]["lowercase"] = "yes"; }, codes::kTokenizerInvalid, "normalizer.lowercase: expected a boolean"},
      {"normalizer not object", [](json& j) { j["normalizer"] = 7; }, codes::kTokenizerInvalid, "normalizer: expected an object"},
      {"bad regex", [](json& j) { j["pre_tokenizer"] = json::parse(R"({"type":"Split","pattern":{"Regex":"(("},"behavior":"Isolated","invert":false})"); },
       codes::kTokenizerInvalid, "pre_tokenizer.pattern.Regex: invalid regular expression"},
      {"bad behavior", [](json& j) { j["pre_tokenizer"] = json::parse(R"({"type":"Punctuation","behavior":"Sideways"})"); },
       codes::kTokenizerInvalid, "pre_tokenizer.behavior: unknown split behavior"},
      {"unknown pre-tokenizer", [](json& j) { j["pre_tokenizer"]["type"] = "Bar"; }, codes::kTokenizerUnsupported, "pre_tokenizer.type = \"Bar\""},
      {"added tokens not array", [](json& j) { j["added_tokens"] = json::object(); }, codes::kTokenizerInvalid, "added_tokens: expected an array"},
      {"added token content", [](json& j) { j["added_tokens"][2]["content"] = 1; }, codes::kTokenizerInvalid, "added_tokens[2].content: expected a string"},
      {"template missing special", [](json& j) { j["post_processor"]["special_tokens"].erase("[SEP]"); },
       codes::kTokenizerInvalid, "post_processor.special_tokens: missing special token \"[SEP]\""},
      {"template piece", [](json& j) { j["post_processor"]["single"][1] = json::parse(R"({"Sequence":{"id":"C","type_id":0}})"); },
       codes::kTokenizerInvalid, "post_processor.single[1].Sequence.id: expected \"A\" or \"B\""},
      {"special ids out of range", [](json& j) { j["post_processor"]["special_tokens"]["[CLS]"]["ids"][0] = -1; },
       codes::kTokenizerInvalid, "post_processor.special_tokens[\"[CLS]\"].ids[0]: expected a token id"},
      {"unknown post-processor", [](json& j) { j["post_processor"]["type"] = "Baz"; }, codes::kTokenizerUnsupported, "post_processor.type = \"Baz\""},
      {"unknown decoder", [](json& j) { j["decoder"]["type"] = "Qux"; }, codes::kTokenizerUnsupported, "decoder.type = \"Qux\""},
      {"truncation length", [](json& j) { j["truncation"] = json::parse(R"({"max_length":"long"})"); },
       codes::kTokenizerInvalid, "truncation.max_length: expected a non-negative integer"},
      {"padding strategy", [](json& j) { j["padding"] = json::parse(R"({"strategy":"Sometimes"})"); },
       codes::kTokenizerInvalid, "padding.strategy: expected"},
  };
  for (const ErrorCase& c : cases) {
    json j = TenPieceJson();
    c.mutate(j);
    auto t = Tokenizer::FromJson(j.dump());
    ASSERT_FALSE(t.ok()) << c.name;
    EXPECT_EQ(t.status().code(), c.code) << c.name << ": " << t.status().message();
    EXPECT_EQ(t.status().message().rfind(c.message_prefix, 0), 0u) << c.name << ": " << t.status().message();
  }
  auto garbage = Tokenizer::FromJson("{not json");
  EXPECT_EQ(garbage.status().code(), codes::kTokenizerInvalid);
  auto top = Tokenizer::FromJson("[1,2]");
  EXPECT_EQ(top.status().code(), codes::kTokenizerInvalid);
  auto missing = Tokenizer::FromFile("/nonexistent/tokenizer.json");
  EXPECT_EQ(missing.status().code(), codes::kIo);
}

TEST(Tokenizer, MissingUnkTokenIsAnErrorAtEncodeTime) {
  json j = TenPieceJson();
  j["model"]["unk_token"] = "<nope>";
  auto t = Load(j);
  Encoding e;
  EXPECT_TRUE(t->Encode("hello", nullptr, {}, &e).ok());
  Status st = t->Encode("zzz", nullptr, {}, &e);
  EXPECT_EQ(st.code(), codes::kTokenizerInvalid);
  EXPECT_EQ(st.message().rfind("model.unk_token:", 0), 0u) << st.message();
}

TEST(Tokenizer, OtherComponents) {
  json j = TenPieceJson();
  j["normalizer"] = json::parse(R"({"type":"Sequence","normalizers":[
      {"type":"Replace","pattern":{"String":"HELLO"},"content":"world"}, {"type":"Lowercase"}, {"type":"Strip","strip_left":true,"strip_right":true}]})");
  j["pre_tokenizer"] = json::parse(R"({"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Punctuation","behavior":"Isolated"}]})");
  auto t = Load(j);
  EncodeOptions o;
  o.add_special_tokens = false;
  Encoding e = Enc(*t, "  HELLO Hello!  ", nullptr, o);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{5, 4, 9}));
  // Replacement text is aligned with the last byte of the match, as HF's transform does.
  EXPECT_EQ(e.offsets, (Offsets{{6, 7}, {8, 13}, {13, 14}}));
}

TEST(Tokenizer, WordLevelAndOldFormatDetection) {
  json j = TenPieceJson();
  j["model"] = json::parse(R"({"vocab": {"hello": 0, "world": 1, "<unk>": 2}, "unk_token": "<unk>"})");
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = json::parse(R"({"type":"Whitespace"})");
  j["post_processor"] = json::parse(R"({"type":"BertProcessing","sep":["[SEP]",3],"cls":["[CLS]",4]})");
  j["added_tokens"] = json::array();
  auto t = Load(j);
  Encoding e = Enc(*t, "hello, world");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{4, 0, 2, 1, 3}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 5}, {5, 6}, {7, 12}, {0, 0}}));
}

TEST(Tokenizer, NormalizedStringAlignments) {
  NormalizedString ns("A\xC3\x89", 10);  // "AÉ" at original offset 10
  ns.Nfd();
  ns.Lowercase();
  EXPECT_EQ(ns.get(), "a" "e\xCC\x81");
  EXPECT_EQ(ns.ToOriginal(1, 4), (Align{11, 13}));
  ns.Prepend("_");
  EXPECT_EQ(ns.get(), "_a" "e\xCC\x81");
  EXPECT_EQ(ns.ToOriginal(0, 1), (Align{10, 11}));
  NormalizedString c("e\xCC\x81", 0);
  c.Nfc();
  EXPECT_EQ(c.get(), "\xC3\xA9");
  // A composed char takes the alignment of the first char it replaces (HF transform, change -1).
  EXPECT_EQ(c.ToOriginal(0, 2), (Align{0, 1}));
}

// Characters whose decomposition is newer than the reference's tables stay as they are.
TEST(Tokenizer, NormalizationUsesTheReferenceUnicodeVersion) {
  NormalizedString k("\xF0\x9F\xAF\xB0\xE2\x91\xA0", 0);  // U+1FBF0 (NFKC "0" since Unicode 13), U+2460
  k.Nfkc();
  EXPECT_EQ(k.get(), "\xF0\x9F\xAF\xB0" "1");
  NormalizedString c("\xF0\x91\xA4\xB5\xF0\x91\xA4\xB0", 0);  // U+11935 U+11930 (NFC U+11938 today)
  c.Nfc();
  EXPECT_EQ(c.get(), "\xF0\x91\xA4\xB5\xF0\x91\xA4\xB0");
}

TEST(Tokenizer, RealBertFilesLoad) {
  for (const char* name : {"bert-base-uncased", "all-minilm-l6-v2", "potion-base-8m"}) {
    auto t = Tokenizer::FromFile(std::string(WINNOW_SHARED_DIR) + "/tokenizers/" + name + "/tokenizer.json");
    ASSERT_TRUE(t.ok()) << name << ": " << t.status().ToString();
    Encoding e;
    ASSERT_TRUE((*t)->Encode("h\xC3\xA9llo \xF0\x9F\x98\x80 w\xC3\xB6rld \xE6\x97\xA5\xE6\x9C\xAC", nullptr, {}, &e).ok());
    if (std::string(name) == "bert-base-uncased") {
      // Reference values from tokenizers@0.23.2.
      EXPECT_EQ(e.ids, (std::vector<int32_t>{101, 7592, 100, 2088, 1864, 1876, 102}));
      EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 6}, {7, 11}, {12, 18}, {19, 22}, {22, 25}, {0, 0}}));
    }
  }
  auto bert = Tokenizer::FromFile(std::string(WINNOW_SHARED_DIR) + "/tokenizers/all-minilm-l6-v2/tokenizer.json");
  ASSERT_TRUE(bert.ok());
  ASSERT_TRUE((*bert)->DefaultTruncation().has_value());
  EXPECT_EQ((*bert)->DefaultTruncation()->max_length, 256u);
  ASSERT_TRUE((*bert)->DefaultPadding().has_value());
  EXPECT_EQ((*bert)->DefaultPadding()->pad_to_multiple_of, 8u);
}

}  // namespace
}  // namespace winnow::tok
