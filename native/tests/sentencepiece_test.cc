// Tokenizers from sentencepiece models (native/core/tokenizer/slow): a ten-piece model written here field by
// field (protobuf wire format) converted for each class with its id layout, special tokens from the folder's
// files, and broken files (truncated at every offset, bytes flipped, hostile lengths, ids and scores, a garbage
// charsmap), each a coded error or a tokenizer that encodes, never a crash (this runs under ASan + UBSan).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "onnx/wire.h"
#include "tokenizer/slow/sentencepiece.h"

namespace winnow::tok::slow {
namespace {

namespace pb = winnow::onnx::pb;
using json = nlohmann::json;

struct P {
  std::string piece;
  float score;
  int type;  // 1 normal, 2 unknown, 3 control, 4 user defined, 6 byte
};

struct Spec {
  std::vector<P> pieces;
  int model_type = 1;
  int64_t unk_id = 0;
  bool byte_fallback = false;
  std::string charsmap;
};

std::string Serialize(const Spec& s) {
  std::string out;
  for (const P& p : s.pieces) {
    std::string m;
    pb::AppendLen(&m, 1, p.piece);
    uint32_t bits;
    std::memcpy(&bits, &p.score, 4);
    pb::AppendFixed32Field(&m, 2, bits);
    pb::AppendVarintField(&m, 3, static_cast<uint64_t>(p.type));
    pb::AppendLen(&out, 1, m);
  }
  std::string t;
  pb::AppendVarintField(&t, 3, static_cast<uint64_t>(s.model_type));
  pb::AppendVarintField(&t, 35, s.byte_fallback);
  pb::AppendVarintField(&t, 40, static_cast<uint64_t>(s.unk_id));  // negative: a 10-byte varint, as protobuf
  pb::AppendLen(&out, 2, t);
  std::string n;
  pb::AppendLen(&n, 1, "nmt_nfkc");
  if (!s.charsmap.empty()) pb::AppendLen(&n, 2, s.charsmap);
  pb::AppendLen(&out, 3, n);
  return out;
}

// XLM-R's layout: <unk> <s> </s>, then pieces by score.
Spec TenPieces() {
  return Spec{{{"<unk>", 0, 2},
               {"<s>", 0, 3},
               {"</s>", 0, 3},
               {"\xE2\x96\x81", -2, 1},
               {"\xE2\x96\x81hello", -3, 1},
               {"\xE2\x96\x81world", -3.5f, 1},
               {"h", -5, 1},
               {"e", -5, 1},
               {"l", -5, 1},
               {"o", -5, 1}}};
}

StatusOr<json> Convert(const std::string& bytes, const std::string& cls, SentencePieceFolderFiles files = {}) {
  return SentencePieceToTokenizerJson(bytes, "test.model", cls, files);
}

std::unique_ptr<Tokenizer> Load(const json& doc) {
  auto t = Tokenizer::FromJson(doc.dump());
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

std::vector<int32_t> Ids(const Tokenizer& t, const std::string& a, const std::string* b = nullptr) {
  Encoding e;
  const std::string_view bv = b ? std::string_view(*b) : std::string_view();
  EXPECT_TRUE(t.Encode(a, b ? &bv : nullptr, EncodeOptions{}, &e).ok());
  return e.ids;
}

// ---- conversion --------------------------------------------------------------------------------------------

TEST(SentencePiece, XlmRobertaShiftsIdsByTheFairseqOffset) {
  auto doc = Convert(Serialize(TenPieces()), "XLMRobertaTokenizer");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  auto t = Load(*doc);
  ASSERT_TRUE(t);
  // <s>=0 <pad>=1 </s>=2 <unk>=3, piece i (i >= 3) at i + 1, <mask> last.
  EXPECT_EQ(Ids(*t, "hello world"), (std::vector<int32_t>{0, 5, 6, 2}));
  EXPECT_EQ(Ids(*t, "hello hxe"), (std::vector<int32_t>{0, 5, 4, 7, 3, 8, 2}));  // x: <unk> (3)
  const std::string b = "world";
  EXPECT_EQ(Ids(*t, "hello", &b), (std::vector<int32_t>{0, 5, 2, 2, 6, 2}));
  EXPECT_EQ(t->TokenToId("<mask>"), 11);
  EXPECT_EQ(t->TokenToId("<pad>"), 1);
  EXPECT_EQ(t->VocabSize(), 12u);
  EXPECT_EQ(Ids(*t, "hello <mask> world"), (std::vector<int32_t>{0, 5, 11, 6, 2}));
}

TEST(SentencePiece, CamembertT5AndDebertaLayouts) {
  {
    auto doc = Convert(Serialize(TenPieces()), "CamembertTokenizer");
    ASSERT_TRUE(doc.ok()) << doc.status().ToString();
    auto t = Load(*doc);
    ASSERT_TRUE(t);
    // <s>NOTUSED <pad> </s>NOTUSED <unk> <unk>NOTUSED, piece i (i >= 1) at i + 4: <s> = 5, </s> = 6.
    EXPECT_EQ(Ids(*t, "hello world"), (std::vector<int32_t>{5, 8, 9, 6}));
    EXPECT_EQ(Ids(*t, "x"), (std::vector<int32_t>{5, 7, 3, 6}));
    EXPECT_EQ(t->TokenToId("<mask>"), 14);
  }
  {
    Spec s = TenPieces();
    s.pieces[0] = {"<pad>", 0, 3};
    s.pieces[1] = {"</s>", 0, 3};
    s.pieces[2] = {"<unk>", 0, 2};
    s.unk_id = 2;
    SentencePieceFolderFiles f;
    f.tokenizer_config = {{"extra_ids", 3}};
    auto doc = Convert(Serialize(s), "T5Tokenizer", f);
    ASSERT_TRUE(doc.ok()) << doc.status().ToString();
    auto t = Load(*doc);
    ASSERT_TRUE(t);
    EXPECT_EQ(Ids(*t, "hello world"), (std::vector<int32_t>{4, 5, 1}));
    const std::string b = "x";
    EXPECT_EQ(Ids(*t, "hello", &b), (std::vector<int32_t>{4, 1, 3, 2, 1}));
    // Extra ids after the pieces, highest first.
    EXPECT_EQ(t->TokenToId("<extra_id_2>"), 10);
    EXPECT_EQ(t->TokenToId("<extra_id_0>"), 12);
    EXPECT_EQ(Ids(*t, "hello<extra_id_0>"), (std::vector<int32_t>{4, 12, 1}));
  }
  {
    Spec s = TenPieces();
    s.pieces[0] = {"[PAD]", 0, 3};
    s.pieces[1] = {"[CLS]", 0, 3};
    s.pieces[2] = {"[SEP]", 0, 3};
    s.pieces[6] = {"[UNK]", 0, 2};
    s.unk_id = 6;
    auto doc = Convert(Serialize(s), "DebertaV2Tokenizer");
    ASSERT_TRUE(doc.ok()) << doc.status().ToString();
    auto t = Load(*doc);
    ASSERT_TRUE(t);
    const std::string b = "world";
    Encoding e;
    const std::string_view bv(b);
    ASSERT_TRUE(t->Encode("  hello  ", &bv, EncodeOptions{}, &e).ok());
    EXPECT_EQ(e.ids, (std::vector<int32_t>{1, 4, 2, 5, 2}));
    EXPECT_EQ(e.type_ids, (std::vector<int32_t>{0, 0, 0, 1, 1}));
    EXPECT_EQ(t->TokenToId("[MASK]"), 10);
  }
}

TEST(SentencePiece, BpeMergesFollowScores) {
  // "▁he" out-scores "ll": "▁hell" -> "▁he" "ll" ... and unknown characters fuse into one <unk>.
  Spec s{{{"<unk>", 0, 2},
          {"<s>", 0, 3},
          {"</s>", 0, 3},
          {"\xE2\x96\x81he", -1, 1},
          {"ll", -2, 1},
          {"\xE2\x96\x81h", -3, 1},
          {"\xE2\x96\x81", -4, 1},
          {"h", -5, 1},
          {"e", -6, 1},
          {"l", -7, 1}},
         2};
  auto doc = Convert(Serialize(s), "XLMRobertaTokenizer");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ((*doc)["model"]["merges"],
            json::parse(R"([["▁h","e"],["l","l"],["▁","h"]])"));
  auto t = Load(*doc);
  ASSERT_TRUE(t);
  EXPECT_EQ(Ids(*t, "hell"), (std::vector<int32_t>{0, 4, 5, 2}));
  EXPECT_EQ(Ids(*t, "hxyz"), (std::vector<int32_t>{0, 6, 3, 2}));  // ▁h + one fused <unk>
}

TEST(SentencePiece, ByteFallbackSpellsUnknownCharactersInBytes) {
  Spec s = TenPieces();
  s.byte_fallback = true;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    s.pieces.push_back({name, 0, 6});
  }
  auto doc = Convert(Serialize(s), "XLMRobertaTokenizer");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  auto t = Load(*doc);
  ASSERT_TRUE(t);
  // "é" = C3 A9: pieces 10 + 0xC3 and 10 + 0xA9, shifted by one.
  EXPECT_EQ(Ids(*t, "\xC3\xA9"), (std::vector<int32_t>{0, 4, 11 + 0xC3, 11 + 0xA9, 2}));
  std::string text;
  const std::vector<int32_t> ids = Ids(*t, "hello \xC3\xA9");
  ASSERT_TRUE(t->Decode(ids.data(), ids.size(), true, &text).ok());
  EXPECT_EQ(text, "hello \xC3\xA9");
}

TEST(SentencePiece, SpecialTokensFromTheFolderFiles) {
  SentencePieceFolderFiles f;
  f.tokenizer_config = json::parse(R"({"mask_token": {"content": "<mask>", "lstrip": false, "rstrip": false},
    "added_tokens_decoder": {"11": {"content": "<mask>", "lstrip": false, "normalized": false, "rstrip": false,
                                    "single_word": false, "special": true},
                             "12": {"content": "<new>", "lstrip": false, "normalized": false, "rstrip": false,
                                    "single_word": false, "special": true}}})");
  auto doc = Convert(Serialize(TenPieces()), "XLMRobertaTokenizer", f);
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  auto t = Load(*doc);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->TokenToId("<new>"), 12);
  EXPECT_EQ(Ids(*t, "hello<new>"), (std::vector<int32_t>{0, 5, 12, 2}));

  // An id the model's vocabulary does not give that token: the file names it.
  f.tokenizer_config["added_tokens_decoder"] = json::parse(R"({"40": {"content": "<new>", "special": true}})");
  auto bad = Convert(Serialize(TenPieces()), "XLMRobertaTokenizer", f);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), codes::kTokenizerInvalid);
  EXPECT_NE(bad.status().message().find("added_tokens_decoder gives \"<new>\" the id 40"), std::string::npos)
      << bad.status().message();

  SentencePieceFolderFiles g;
  g.special_tokens_map = json::parse(R"({"additional_special_tokens": [{"content": 5}]})");
  auto bad2 = Convert(Serialize(TenPieces()), "XLMRobertaTokenizer", g);
  ASSERT_FALSE(bad2.ok());
  EXPECT_EQ(bad2.status().code(), codes::kTokenizerInvalid);
  EXPECT_NE(bad2.status().message().find("special_tokens_map.json: additional_special_tokens[0]"), std::string::npos)
      << bad2.status().message();
  g.special_tokens_map = nullptr;
  g.added_tokens = json::parse(R"({"<a>": 12, "<b>": 14})");  // <b> comes right after <a>: 13
  auto bad3 = Convert(Serialize(TenPieces()), "XLMRobertaTokenizer", g);
  ASSERT_FALSE(bad3.ok());
  EXPECT_NE(bad3.status().message().find("added_tokens.json gives \"<b>\" the id 14"), std::string::npos)
      << bad3.status().message();
}

// ---- broken files --------------------------------------------------------------------------------------------

void ExpectError(const std::string& bytes, const char* code, const std::string& fragment,
                 const std::string& cls = "XLMRobertaTokenizer") {
  auto doc = Convert(bytes, cls);
  ASSERT_FALSE(doc.ok()) << "converted: " << fragment;
  EXPECT_EQ(doc.status().code(), code) << doc.status().ToString();
  EXPECT_NE(doc.status().message().find("sentencepiece model 'test.model'"), std::string::npos) << doc.status().message();
  EXPECT_NE(doc.status().message().find(fragment), std::string::npos) << doc.status().message();
}

TEST(SentencePiece, MalformedModelsAreCodedErrors) {
  ExpectError("", codes::kTokenizerInvalid, "no pieces");
  ExpectError("\x0a\xff\xff\xff\xff\x0f", codes::kTokenizerInvalid, "truncated or not a sentencepiece model");
  // A length varint of 2^63 - 1 (read as negative by a signed reader).
  ExpectError(std::string("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10), codes::kTokenizerInvalid, "truncated");
  ExpectError("\x08\x01", codes::kTokenizerInvalid, "wrong wire type");  // pieces as a varint
  ExpectError("not a model at all", codes::kTokenizerInvalid, "sentencepiece model");
  Spec s = TenPieces();
  s.unk_id = -1;
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "unk_id -1 is out of range (10 pieces)");
  s.unk_id = 1000000000;
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "unk_id 1000000000 is out of range");
  s.unk_id = 3;
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "not the unknown piece");
  s = TenPieces();
  s.unk_id = int64_t{1} << 40;
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "unk_id is not an int32");
  s = TenPieces();
  s.pieces[5].piece = "";
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "pieces[5] has no piece string");
  s.pieces[5].piece = "\xC3";
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "pieces[5].piece is not valid UTF-8");
  s.pieces[5].piece = "\xED\xA0\x80";  // a surrogate
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "pieces[5].piece is not valid UTF-8");
  s.pieces[5] = {"h", -1, 1};
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "pieces[6] \"h\" repeats pieces[5]");
  s = TenPieces();
  s.pieces[4].score = std::nanf("");
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "pieces[4].score is not a finite number");
  s.pieces[4].score = INFINITY;
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "pieces[4].score is not a finite number");
  s = TenPieces();
  s.pieces[4].type = 9;
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "pieces[4].type 9 is not a piece type");
  s.pieces[4].type = 2;
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "pieces[4] is a second unknown piece");
  s = TenPieces();
  s.model_type = 3;
  ExpectError(Serialize(s), codes::kTokenizerUnsupported, "model type WORD");
  s.model_type = 4;
  ExpectError(Serialize(s), codes::kTokenizerUnsupported, "model type CHAR");
  s.model_type = 7;
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "model_type 7 is not a model type");
  s = TenPieces();
  s.pieces.resize(2);
  ExpectError(Serialize(s), codes::kTokenizerInvalid, "needs at least the 3 pieces");
  s = TenPieces();
  std::swap(s.pieces[0], s.pieces[1]);
  s.unk_id = 1;
  ExpectError(Serialize(s), codes::kTokenizerUnsupported, "expects the unknown piece at id 0");
  ExpectError(Serialize(TenPieces()), codes::kTokenizerUnsupported, "Winnow builds XLMRobertaTokenizer",
              "AlbertTokenizer");
  // DeBERTa's template names [CLS] and [SEP] literally: with other special tokens and no such pieces, no id.
  SentencePieceFolderFiles f;
  f.tokenizer_config = {{"cls_token", "<c>"}, {"bos_token", "<c>"}};
  auto doc = Convert(Serialize(TenPieces()), "DebertaV2Tokenizer", f);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), codes::kTokenizerInvalid);
  EXPECT_NE(doc.status().message().find("adds \"[CLS]\" around each text"), std::string::npos) << doc.status().message();
}

// Every result is a coded error or a tokenizer that encodes.
void Survives(const std::string& bytes, const std::string& cls = "XLMRobertaTokenizer") {
  auto doc = Convert(bytes, cls);
  if (!doc.ok()) {
    const std::string& c = doc.status().code();
    EXPECT_TRUE(c == codes::kTokenizerInvalid || c == codes::kTokenizerUnsupported) << doc.status().ToString();
    return;
  }
  auto t = Tokenizer::FromJson(doc->dump());
  if (!t.ok()) {
    EXPECT_EQ(t.status().code(), codes::kTokenizerInvalid) << t.status().ToString();
    return;
  }
  Encoding e;
  const std::string_view pair = "p\xC3\xA4ir  x";
  (void)(*t)->Encode("  hello w\xC3\xB6rld \xE2\x96\x81 <mask> \xF0\x9F\x98\x80  ", &pair, EncodeOptions{}, &e);
}

TEST(SentencePiece, TruncatedAtEveryOffset) {
  const std::string full = Serialize(TenPieces());
  for (size_t n = 0; n < full.size(); ++n) Survives(full.substr(0, n));
}

TEST(SentencePiece, FlippedBytes) {
  Spec s = TenPieces();
  s.byte_fallback = true;
  const std::string full = Serialize(s);
  std::mt19937 rng(26);
  for (int i = 0; i < 3000; ++i) {
    std::string b = full;
    for (int k = 0; k < 1 + i % 4; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    Survives(b, i % 2 ? "T5Tokenizer" : "XLMRobertaTokenizer");
  }
}

TEST(SentencePiece, GarbageCharsmap) {
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    Spec s = TenPieces();
    s.charsmap.resize(1 + rng() % 64);
    for (char& c : s.charsmap) c = static_cast<char>(rng());
    if (i % 3 == 0) {  // a trie size that fits, over random units and strings
      const uint32_t units = rng() % 8;
      const uint32_t size = 4 * units;
      s.charsmap.resize(4 + size + rng() % 16);
      std::memcpy(s.charsmap.data(), &size, 4);
    }
    Survives(Serialize(s));
  }
  Spec s = TenPieces();
  s.charsmap = std::string("\xff\xff\xff\x7f", 4) + "xy";
  auto doc = Convert(Serialize(s), "XLMRobertaTokenizer");
  ASSERT_TRUE(doc.ok());
  auto t = Tokenizer::FromJson(doc->dump());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), codes::kTokenizerInvalid);
  EXPECT_NE(t.status().message().find("charsmap trie size"), std::string::npos) << t.status().message();
}

TEST(SentencePiece, RealFixturesTruncatedAndFlipped) {
  const char* names[][2] = {{"xlmr-bpe", "XLMRobertaTokenizer"}, {"t5-unigram", "T5Tokenizer"}};
  std::mt19937 rng(3);
  for (auto [name, cls] : names) {
    std::ifstream f(std::string(WINNOW_SOURCE_DIR) + "/test/fixtures/tokenizers/spm/" + name + ".model",
                    std::ios::binary);
    ASSERT_TRUE(f) << name;
    const std::string full((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    ASSERT_TRUE(Convert(full, cls).ok());
    for (int i = 0; i < 25; ++i) Survives(full.substr(0, rng() % full.size()), cls);
    for (int i = 0; i < 25; ++i) {
      std::string b = full;
      b[rng() % b.size()] = static_cast<char>(rng());
      Survives(b, cls);
    }
  }
}

// ---- files ------------------------------------------------------------------------------------------------

class SentencePieceFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/winnow-spm-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << bytes;
  }
  std::string dir_;
};

TEST_F(SentencePieceFolder, ReadsTheModelAndTheSpecialTokensMap) {
  Write("sentencepiece.bpe.model", Serialize(TenPieces()));
  Write("special_tokens_map.json", R"({"mask_token": "<m>"})");
  auto t = FromSentencePiece(dir_, dir_ + "/sentencepiece.bpe.model", "XLMRobertaTokenizer", json::object());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->TokenToId("<m>"), 12);  // the converter's own <mask> keeps 11
  EXPECT_EQ(Ids(**t, "hello <m>"), (std::vector<int32_t>{0, 5, 12, 2}));
}

TEST_F(SentencePieceFolder, BadFilesAreNamed) {
  auto missing = FromSentencePiece(dir_, dir_ + "/none.model", "T5Tokenizer", json::object());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), codes::kIo);
  auto folder = FromSentencePiece(dir_, dir_, "T5Tokenizer", json::object());
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.status().code(), codes::kIo);

  Write("spm.model", Serialize(TenPieces()).substr(0, 40));
  auto truncated = FromSentencePiece(dir_, dir_ + "/spm.model", "XLMRobertaTokenizer", json::object());
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), codes::kTokenizerInvalid);
  EXPECT_NE(truncated.status().message().find(dir_ + "/spm.model"), std::string::npos);

  Write("spm.model", Serialize(TenPieces()));
  Write("special_tokens_map.json", "{\"mask_token\": ");
  auto bad_json = FromSentencePiece(dir_, dir_ + "/spm.model", "XLMRobertaTokenizer", json::object());
  ASSERT_FALSE(bad_json.ok());
  EXPECT_EQ(bad_json.status().code(), codes::kTokenizerInvalid);
  EXPECT_NE(bad_json.status().message().find("special_tokens_map.json: not valid JSON"), std::string::npos)
      << bad_json.status().message();
  Write("special_tokens_map.json", std::string(100000, '[') + std::string(100000, ']'));
  auto deep = FromSentencePiece(dir_, dir_ + "/spm.model", "XLMRobertaTokenizer", json::object());
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("nested more than 32 levels"), std::string::npos) << deep.status().message();
}

TEST_F(SentencePieceFolder, OversizedModelRefusedBeforeReading) {
  const std::string path = dir_ + "/huge.model";
  { std::ofstream(path, std::ios::binary) << "x"; }
  ASSERT_EQ(truncate(path.c_str(), static_cast<off_t>(kMaxSentencePieceModelBytes) + 1), 0);  // sparse
  auto t = FromSentencePiece(dir_, path, "T5Tokenizer", json::object());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), codes::kTokenizerInvalid);
  EXPECT_NE(t.status().message().find("more than the 268435456 read"), std::string::npos) << t.status().message();
}

}  // namespace
}  // namespace winnow::tok::slow
