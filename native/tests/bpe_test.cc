// BPE model tests. Expected outputs were produced by Hugging Face `tokenizers` 0.23.2 (npm) on the
// same inline models (offsets converted to bytes).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/model.h"

namespace winnow::tok {
namespace {

using Json = nlohmann::json;
using Toks = std::vector<std::vector<int>>;  // {id, start, end}

Json Base() {
  return Json{{"type", "BPE"},          {"dropout", nullptr},          {"unk_token", nullptr},
              {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
              {"fuse_unk", false},      {"byte_fallback", false},     {"ignore_merges", false}};
}

std::unique_ptr<Model> Load(const Json& j) {
  auto m = LoadBpe(j, "model");
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

Toks Encode(const Model& m, std::string_view piece) {
  std::vector<Token> out;
  Status st = m.Tokenize(piece, &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  Toks t;
  for (const Token& k : out) t.push_back({k.id, static_cast<int>(k.start), static_cast<int>(k.end)});
  return t;
}

TEST(Bpe, MergeOrderAndTieBreaking) {
  Json j = Base();
  j["vocab"] = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}, {"aa", 6}, {"aaaa", 7}};
  j["merges"] = {"b c", "a a", "a b", "a bc", "ab c", "aa aa"};
  auto m = Load(j);
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "abc"), (Toks{{5, 0, 3}}));
  EXPECT_EQ(Encode(*m, "aaa"), (Toks{{6, 0, 2}, {0, 2, 3}}));  // equal rank: leftmost first
  EXPECT_EQ(Encode(*m, "aaaa"), (Toks{{7, 0, 4}}));
  EXPECT_EQ(Encode(*m, "aaaaa"), (Toks{{7, 0, 4}, {0, 4, 5}}));
  EXPECT_EQ(Encode(*m, "abcabc"), (Toks{{5, 0, 3}, {5, 3, 6}}));
  EXPECT_EQ(Encode(*m, "cab"), (Toks{{2, 0, 1}, {3, 1, 3}}));
  EXPECT_EQ(Encode(*m, ""), Toks{});
  // Cached path gives the same answer.
  EXPECT_EQ(Encode(*m, "aaaaa"), (Toks{{7, 0, 4}, {0, 4, 5}}));
}

TEST(Bpe, TwoMergesToTheSameToken) {
  Json j = Base();
  j["vocab"] = {{"x", 0}, {"y", 1}, {"z", 2}, {"xy", 3}, {"yz", 4}, {"xyz", 5}};
  j["merges"] = {"x y", "y z", "xy z", "x yz"};
  auto m = Load(j);
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "xyz"), (Toks{{5, 0, 3}}));
  EXPECT_EQ(Encode(*m, "yzxyz"), (Toks{{4, 0, 2}, {5, 2, 5}}));
  EXPECT_EQ(Encode(*m, "xyzz"), (Toks{{5, 0, 3}, {2, 3, 4}}));
}

TEST(Bpe, PairMergesWithSpaces) {
  Json j = Base();
  j["vocab"] = {{"a", 0}, {" ", 1}, {"a ", 2}, {"a a", 3}};
  j["merges"] = Json::array({Json::array({"a", " "}), Json::array({"a ", "a"})});
  auto m = Load(j);
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "a a"), (Toks{{3, 0, 3}}));
  EXPECT_EQ(Encode(*m, "a  a"), (Toks{{2, 0, 2}, {1, 2, 3}, {0, 3, 4}}));
}

TEST(Bpe, ByteFallback) {
  Json j = Base();
  j["unk_token"] = "<unk>";
  j["byte_fallback"] = true;
  j["vocab"] = {{"<unk>", 0}, {"a", 1}, {"<0xC3>", 2}, {"<0xA9>", 3}, {"<0x41>", 4}};
  j["merges"] = Json::array();
  auto m = Load(j);
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "a\xC3\xA9" "a"), (Toks{{1, 0, 1}, {2, 1, 2}, {3, 2, 3}, {1, 3, 4}}));
  EXPECT_EQ(Encode(*m, "a\xE4\xB8\xAD" "a"), (Toks{{1, 0, 1}, {0, 1, 4}, {1, 4, 5}}));  // missing bytes -> unk
  EXPECT_EQ(Encode(*m, "A\xC3\xA9"), (Toks{{4, 0, 1}, {2, 1, 2}, {3, 2, 3}}));
}

TEST(Bpe, UnknownFusedOrNotOrDropped) {
  Json j = Base();
  j["unk_token"] = "<unk>";
  j["fuse_unk"] = true;
  j["vocab"] = {{"<unk>", 0}, {"a", 1}};
  j["merges"] = Json::array();
  auto fused = Load(j);
  ASSERT_TRUE(fused);
  EXPECT_EQ(Encode(*fused, "zzaz"), (Toks{{0, 0, 2}, {1, 2, 3}, {0, 3, 4}}));
  EXPECT_EQ(Encode(*fused, "\xC3\xA9\xE4\xB8\xAD" "a"), (Toks{{0, 0, 5}, {1, 5, 6}}));
  EXPECT_EQ(fused->UnkId(), 0);
  j["fuse_unk"] = false;
  auto unfused = Load(j);
  ASSERT_TRUE(unfused);
  EXPECT_EQ(Encode(*unfused, "zzaz"), (Toks{{0, 0, 1}, {0, 1, 2}, {1, 2, 3}, {0, 3, 4}}));

  // No unk_token: unknown characters vanish and later offsets shift (as in HF).
  Json k = Base();
  k["vocab"] = {{"a", 0}, {"b", 1}, {"ab", 2}};
  k["merges"] = {"a b"};
  auto none = Load(k);
  ASSERT_TRUE(none);
  EXPECT_EQ(Encode(*none, "azb"), (Toks{{2, 0, 2}}));
  EXPECT_EQ(Encode(*none, "zab"), (Toks{{2, 0, 2}}));

  // unk_token missing from the vocab: error at encode time, like HF.
  Json u = Base();
  u["unk_token"] = "<unk>";
  u["vocab"] = {{"a", 0}};
  u["merges"] = Json::array();
  auto bad = Load(u);
  ASSERT_TRUE(bad);
  std::vector<Token> out;
  Status st = bad->Tokenize("az", &out);
  EXPECT_EQ(st.code(), codes::kTokenizerInvalid);
}

TEST(Bpe, ContinuingSubwordPrefixAndEndOfWordSuffix) {
  Json j = Base();
  j["continuing_subword_prefix"] = "##";
  j["end_of_word_suffix"] = "</w>";
  j["vocab"] = {{"a", 0},   {"##b", 1}, {"##c</w>", 2}, {"##b##c</w>", 3}, {"a##b", 4},
                {"ab", 5},  {"b", 6},   {"c</w>", 7},   {"abc</w>", 8},    {"c", 9}};
  j["merges"] = {"a ##b", "ab ##c</w>"};
  auto m = Load(j);
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "abc"), (Toks{{8, 0, 3}}));
  EXPECT_EQ(Encode(*m, "a"), Toks{});  // "a</w>" is not in the vocab and there is no unk
  EXPECT_EQ(Encode(*m, "c"), (Toks{{7, 0, 1}}));
  EXPECT_EQ(m->TokenToId("##b"), 1);
  EXPECT_EQ(m->IdToToken(3), "##b##c</w>");
  EXPECT_EQ(m->IdToToken(99), std::nullopt);
  EXPECT_EQ(m->VocabSize(), 10u);
}

TEST(Bpe, IgnoreMerges) {
  Json j = Base();
  j["ignore_merges"] = true;
  j["vocab"] = {{"a", 0}, {"b", 1}, {"c", 2}, {"abc", 3}, {"ab", 4}};
  j["merges"] = {"a b"};
  auto m = Load(j);
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "abc"), (Toks{{3, 0, 3}}));
  EXPECT_EQ(Encode(*m, "abcab"), (Toks{{4, 0, 2}, {2, 2, 3}, {4, 3, 5}}));
}

TEST(Bpe, DuplicateMergeLastWins) {
  Json j = Base();
  j["vocab"] = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}};
  j["merges"] = {"a b", "b c", "a b"};  // "a b" now ranks after "b c"
  auto m = Load(j);
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "abc"), (Toks{{0, 0, 1}, {4, 1, 3}}));
}

void ExpectInvalid(const Json& j, const std::string& prefix, const char* code = codes::kTokenizerInvalid) {
  auto m = LoadBpe(j, "model");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), code);
  EXPECT_EQ(m.status().message().rfind(prefix, 0), 0u) << m.status().message();
}

TEST(Bpe, MalformedModels) {
  Json j = Base();
  j["vocab"] = {{"a", 0}, {"b", 1}, {"ab", 2}};
  j["merges"] = {"a b", 7};
  ExpectInvalid(j, "model.merges[1]: ");
  j["merges"] = {"a b", "ab"};
  ExpectInvalid(j, "model.merges[1]: ");
  j["merges"] = {"a b c"};
  ExpectInvalid(j, "model.merges[0]: ");
  j["merges"] = Json::array({"a b", Json::array({"a", "b"})});  // mixed formats
  ExpectInvalid(j, "model.merges[1]: ");
  j["merges"] = {"a x"};
  ExpectInvalid(j, "model.merges[0]: token \"x\" is not in the vocabulary");
  j["merges"] = {"b a"};
  ExpectInvalid(j, "model.merges[0]: merged token \"ba\"");
  j["merges"] = Json::array({Json::array({"a"})});
  ExpectInvalid(j, "model.merges[0]: ");
  j["merges"] = "a b";
  ExpectInvalid(j, "model.merges: ");

  Json v = Base();
  v["vocab"] = Json::array();
  v["merges"] = Json::array();
  ExpectInvalid(v, "model.vocab: ");
  v["vocab"] = {{"a", -1}};
  ExpectInvalid(v, "model.vocab[\"a\"]: ");
  v["vocab"] = {{"a", "0"}};
  ExpectInvalid(v, "model.vocab[\"a\"]: ");
  v["vocab"] = {{"a", 0}};
  v["fuse_unk"] = "yes";
  ExpectInvalid(v, "model.fuse_unk: ");
  v["fuse_unk"] = false;
  v["unk_token"] = 3;
  ExpectInvalid(v, "model.unk_token: ");
  v["unk_token"] = nullptr;
  v["dropout"] = 0.1;
  ExpectInvalid(v, "model.dropout = ", codes::kTokenizerUnsupported);
  v["dropout"] = 0.0;
  EXPECT_TRUE(LoadBpe(v, "model").ok());
  v.erase("vocab");
  ExpectInvalid(v, "model.vocab: ");
  ExpectInvalid(Json::array(), "model: ");
}

TEST(Bpe, ManyPiecesConcurrently) {
  Json j = Base();
  j["vocab"] = {{"a", 0}, {"b", 1}, {"ab", 2}, {"abab", 3}};
  j["merges"] = {"a b", "ab ab"};
  auto m = Load(j);
  ASSERT_TRUE(m);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string piece;
        for (int k = 0; k < (i + t) % 9 + 1; ++k) piece += "ab";
        std::vector<Token> out;
        if (!m->Tokenize(piece, &out).ok()) ++bad;
        size_t expect = piece.size() / 4 + (piece.size() % 4 ? 1 : 0);
        if (out.size() != expect || out.back().end != piece.size()) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace winnow::tok
