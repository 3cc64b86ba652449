// Encoding a prefix of a document that truncation cuts anyway (Tokenizer::EncodeRawForTruncation, used
// by Encode and the pipelines) must give exactly what encoding the whole text and truncating gives: ids,
// offsets, type ids, masks and overflowing windows. Checked on every tokenizer in ../shared/tokenizers
// over dbpedia-entity texts, and on texts whose cut lands next to added tokens, spaces, digits and
// punctuation.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace winnow::tok {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> SharedTokenizers() {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(WINNOW_SHARED_DIR) / "tokenizers", ec)) {
    if (fs::exists(e.path() / "tokenizer.json")) out.push_back(e.path() / "tokenizer.json");
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> CorpusTexts(size_t n) {
  std::ifstream in(fs::path(WINNOW_SHARED_DIR) / "corpora/dbpedia-entity/corpus.jsonl");
  std::vector<std::string> out;
  std::string line;
  while (out.size() < n && std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    out.push_back(j.value("title", "") + ". " + j.value("text", ""));
  }
  return out;
}

std::vector<std::string> AddedContents(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<std::string> out;
  for (const auto& t : nlohmann::json::parse(ss.str()).value("added_tokens", nlohmann::json::array()))
    out.push_back(t.value("content", ""));
  return out;
}

void ExpectSame(const Encoding& a, const Encoding& b, const std::string& what) {
  ASSERT_EQ(a.ids, b.ids) << what;
  ASSERT_EQ(a.offsets, b.offsets) << what;
  ASSERT_EQ(a.type_ids, b.type_ids) << what;
  ASSERT_EQ(a.special_tokens_mask, b.special_tokens_mask) << what;
  ASSERT_EQ(a.attention_mask, b.attention_mask) << what;
  ASSERT_EQ(a.sequence_ids, b.sequence_ids) << what;
  ASSERT_EQ(a.overflowing.size(), b.overflowing.size()) << what;
  for (size_t i = 0; i < a.overflowing.size(); ++i) ExpectSame(a.overflowing[i], b.overflowing[i], what + " overflow");
}

// Encode (prefix path) against PostProcess of the whole text's EncodeRaw (today's path), single and as
// the document of a pair truncated only_second. Returns whether the prefix was shorter than the text.
bool CheckBothPaths(const Tokenizer& t, const std::string& text, size_t max_length, const std::string& what) {
  EncodeOptions o;
  o.truncation.max_length = max_length;
  o.truncation.stride = max_length > 8 ? 3 : 0;
  o.truncation.keep_overflowing = true;
  Encoding full, fast, want;
  EXPECT_TRUE(t.EncodeRaw(text, &full).ok());
  Status st = t.Encode(text, nullptr, o, &fast);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(t.PostProcess(full, nullptr, o, &want).ok());
  ExpectSame(fast, want, what + " single");

  const std::string_view query = "what is it";
  o.truncation.max_length = max_length + 8;
  o.truncation.strategy = TruncationStrategy::kOnlySecond;
  o.truncation.keep_overflowing = false;
  Encoding q, fast_pair, want_pair;
  EXPECT_TRUE(t.EncodeRaw(query, &q).ok());
  const std::string_view doc(text);
  EXPECT_TRUE(t.Encode(query, &doc, o, &fast_pair).ok());
  Encoding full_copy = full;
  EXPECT_TRUE(t.PostProcess(q, &full_copy, o, &want_pair).ok());
  ExpectSame(fast_pair, want_pair, what + " pair");

  Encoding prefix;
  EXPECT_TRUE(t.EncodeRawForTruncation(text, max_length, &prefix).ok());
  return prefix.size() < full.size();
}

TEST(TruncationPrefix, EqualsWholeTextTruncationOnEveryTokenizer) {
  const auto files = SharedTokenizers();
  ASSERT_GE(files.size(), 4u);
  const auto texts = CorpusTexts(300);
  ASSERT_EQ(texts.size(), 300u);
  for (const auto& f : files) {
    auto t = Tokenizer::FromFile(f.string());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    size_t shortened = 0, runs = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      for (size_t max_length : {4, 16, 64, 200}) {
        ++runs;
        shortened += CheckBothPaths(**t, texts[i], max_length, f.parent_path().filename().string() + " text " +
                                                                   std::to_string(i) + " max_length " +
                                                                   std::to_string(max_length));
        if (testing::Test::HasFatalFailure()) return;
      }
    }
    // The prefix path must actually be taken (all these pipelines are known to split at spaces).
    EXPECT_GT(shortened, runs / 4) << f;
  }
}

TEST(TruncationPrefix, CutNextToAddedTokensSpacesDigitsAndPunctuation) {
  const auto texts = CorpusTexts(40);
  std::string base;
  for (const auto& t : texts) base += t + " ";
  for (const auto& f : SharedTokenizers()) {
    auto t = Tokenizer::FromFile(f.string());
    ASSERT_TRUE(t.ok());
    std::vector<std::string> inserts = {" ", "  ", "\n", "7", " 42 ", ".", "!?", "\xC3\xA9", "\xE8\xAA\x9E", "\xF0\x9F\x98\x80",
                                        "\xCC\x81", "a", "\t "};
    const auto added = AddedContents(f);
    for (size_t k = 0; k < added.size() && k < 8; ++k) {
      const std::string& c = added[k];
      inserts.push_back(c);
      inserts.push_back(" " + c + " ");
      inserts.push_back(c + " ");
    }
    // max_length 16 / 40 start with a 128 / 320-byte prefix: insert around there (the first eight added
    // tokens of each file: the special ones come first).
    for (size_t max_length : {16, 40}) {
      const size_t start = 8 * max_length;
      for (size_t at = start - 12; at < start + 12; at += 3) {
        for (const auto& ins : inserts) {
          size_t p = at;
          while (p < base.size() && (static_cast<unsigned char>(base[p]) & 0xC0) == 0x80) ++p;
          const std::string text = base.substr(0, p) + ins + base.substr(p, 1500);
          CheckBothPaths(**t, text, max_length, f.parent_path().filename().string() + " insert '" + ins + "' at " +
                                                    std::to_string(p));
          if (testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
}

// Few tokens per byte (long words, long unknown words): the first prefix falls short or just reaches
// max_length, so the kept tokens often end at its last split, and the prefix has to grow.
TEST(TruncationPrefix, LongWordsMakeThePrefixGrow) {
  for (const auto& f : SharedTokenizers()) {
    auto t = Tokenizer::FromFile(f.string());
    ASSERT_TRUE(t.ok());
    for (size_t word = 3; word < 140; word += 7) {
      for (const char* unit : {"a", "ab", "xq", "\xC3\xA9"}) {
        std::string w;
        while (w.size() < word) w += unit;
        std::string text;
        for (size_t i = 0; text.size() < 6000; ++i) text += w + (i % 5 == 4 ? ". " : " ");
        for (size_t max_length : {3, 4, 9, 16, 33}) {
          CheckBothPaths(**t, text, max_length, f.parent_path().filename().string() + " word " + w.substr(0, 8) +
                                                    "x" + std::to_string(word) + " max_length " + std::to_string(max_length));
          if (testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
}

// A pipeline that is not known to split at spaces encodes the whole text.
TEST(TruncationPrefix, UnknownPipelinesEncodeTheWholeText) {
  const char* kJson = R"({"version": "1.0", "added_tokens": [], "normalizer": null, "post_processor": null, "decoder": null,
    "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\w+|\\s"}, "behavior": "Isolated", "invert": false},
    "model": {"type": "WordLevel", "unk_token": "u", "vocab": {"u": 0, "a": 1, " ": 2}}})";
  auto t = Tokenizer::FromJson(kJson);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  std::string text;
  for (int i = 0; i < 500; ++i) text += "a ";
  Encoding full, prefix;
  ASSERT_TRUE((*t)->EncodeRaw(text, &full).ok());
  ASSERT_TRUE((*t)->EncodeRawForTruncation(text, 4, &prefix).ok());
  EXPECT_EQ(prefix.ids, full.ids);
  CheckBothPaths(**t, text, 4, "split regex");
}

}  // namespace
}  // namespace winnow::tok
