// Unigram model tests. Expected outputs were produced by Hugging Face `tokenizers` 0.23.2 (npm) on
// the same inline models (offsets converted to bytes).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/model.h"

namespace winnow::tok {
namespace {

using Json = nlohmann::json;
using Toks = std::vector<std::vector<int>>;  // {id, start, end}

std::unique_ptr<Model> Load(const Json& vocab, Json unk_id = 0, bool byte_fallback = false) {
  Json j = {{"type", "Unigram"}, {"unk_id", unk_id}, {"vocab", vocab}, {"byte_fallback", byte_fallback}};
  auto m = LoadUnigram(j, "model");
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

TEST(Unigram, BestPathAndTies) {
  auto m = Load(Json::parse(R"([["<unk>",0],["a",-1],["b",-1],["ab",-2],["abc",-3],["c",-1],["bc",-1.5]])"));
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "ab"), (Toks{{3, 0, 2}}));  // "ab" (-2) ties with a+b (-2): earliest start wins
  EXPECT_EQ(Encode(*m, "abc"), (Toks{{1, 0, 1}, {6, 1, 3}}));
  EXPECT_EQ(Encode(*m, "cab"), (Toks{{5, 0, 1}, {3, 1, 3}}));
  EXPECT_EQ(Encode(*m, ""), Toks{});
  EXPECT_EQ(m->VocabSize(), 7u);
  EXPECT_EQ(m->TokenToId("bc"), 6);
  EXPECT_EQ(m->IdToToken(4), "abc");
  EXPECT_EQ(m->UnkId(), 0);
}

TEST(Unigram, UnknownsAreFused) {
  auto m = Load(Json::parse(R"([["<unk>",0],["a",-1],["b",-2]])"));
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "azzb"), (Toks{{1, 0, 1}, {0, 1, 3}, {2, 3, 4}}));
  EXPECT_EQ(Encode(*m, "z"), (Toks{{0, 0, 1}}));
  // The literal unk piece is fused with the unknowns around it, like HF.
  EXPECT_EQ(Encode(*m, "a<unk>z"), (Toks{{1, 0, 1}, {0, 1, 7}}));
}

TEST(Unigram, ByteFallback) {
  auto m = Load(Json::parse(R"([["<unk>",0],["a",-1],["<0xC3>",-5],["<0xA9>",-5]])"), 0, true);
  ASSERT_TRUE(m);
  // Every byte token spans the whole unknown run.
  EXPECT_EQ(Encode(*m, "a\xC3\xA9" "a"), (Toks{{1, 0, 1}, {2, 1, 3}, {3, 1, 3}, {1, 3, 4}}));
  EXPECT_EQ(Encode(*m, "a\xC3\xA9\xE4\xB8\xAD" "a"), (Toks{{1, 0, 1}, {0, 1, 6}, {1, 6, 7}}));
  EXPECT_EQ(Encode(*m, "zz"), (Toks{{0, 0, 2}}));
}

TEST(Unigram, DuplicatePiecesLastWins) {
  auto m = Load(Json::parse(R"([["<unk>",0],["a",-1],["a",-3],["aa",-1.5]])"));
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "aaa"), (Toks{{2, 0, 1}, {3, 1, 3}}));
}

TEST(Unigram, MissingUnkIdIsAnErrorOnlyWhenNeeded) {
  auto m = Load(Json::parse(R"([["a",-1],["b",-2]])"), nullptr);
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "ab"), (Toks{{0, 0, 1}, {1, 1, 2}}));
  std::vector<Token> out;
  Status st = m->Tokenize("abz", &out);
  EXPECT_EQ(st.code(), codes::kTokenizerInvalid);
  EXPECT_EQ(m->UnkId(), std::nullopt);
}

TEST(Unigram, MultibyteAndLongPieces) {
  auto m = Load(Json::parse(R"([["<unk>",0],["\u2581",-2],["\u2581\u6771\u4eac",-3],["\u6771",-4],["\u4eac",-4],["\ud83d\ude00",-1]])"));
  ASSERT_TRUE(m);
  EXPECT_EQ(Encode(*m, "\xE2\x96\x81\xE6\x9D\xB1\xE4\xBA\xAC"), (Toks{{2, 0, 9}}));
  EXPECT_EQ(Encode(*m, "\xF0\x9F\x98\x80\xF0\x9F\x98\x81"), (Toks{{5, 0, 4}, {0, 4, 8}}));
  std::string long_piece(5000, 'q');
  EXPECT_EQ(Encode(*m, long_piece), (Toks{{0, 0, 5000}}));
}

void ExpectInvalid(const Json& j, const std::string& prefix) {
  auto m = LoadUnigram(j, "model");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), codes::kTokenizerInvalid);
  EXPECT_EQ(m.status().message().rfind(prefix, 0), 0u) << m.status().message();
}

TEST(Unigram, MalformedModels) {
  ExpectInvalid(Json::parse(R"({"unk_id":0,"vocab":[["a",-1],["b"]]})"), "model.vocab[1]: ");
  ExpectInvalid(Json::parse(R"({"unk_id":0,"vocab":[["a",-1],[2,-1]]})"), "model.vocab[1]: ");
  ExpectInvalid(Json::parse(R"({"unk_id":0,"vocab":[["a","x"]]})"), "model.vocab[0]: ");
  ExpectInvalid(Json::parse(R"({"unk_id":0,"vocab":{"a":1}})"), "model.vocab: ");
  ExpectInvalid(Json::parse(R"({"unk_id":0})"), "model.vocab: ");
  ExpectInvalid(Json::parse(R"({"unk_id":5,"vocab":[["a",-1]]})"), "model.unk_id: ");
  ExpectInvalid(Json::parse(R"({"unk_id":-1,"vocab":[["a",-1]]})"), "model.unk_id: ");
  ExpectInvalid(Json::parse(R"({"unk_id":0,"vocab":[]})"), "model.unk_id: ");
  ExpectInvalid(Json::parse(R"({"unk_id":0,"vocab":[["a",-1]],"byte_fallback":1})"), "model.byte_fallback: ");
  ExpectInvalid(Json::parse(R"({"type":"BPE","vocab":[]})"), "model.type: ");
  EXPECT_TRUE(LoadUnigram(Json::parse(R"({"unk_id":null,"vocab":[]})"), "model").ok());
}

}  // namespace
}  // namespace winnow::tok
