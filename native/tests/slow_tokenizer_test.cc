// Tokenizers from slow files (native/core/tokenizer/slow): a ten-piece vocab.txt built here, the errors of malformed
// folders, and the MeCab dictionary search over folders made here.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "tokenizer/slow/folder.h"
#include "tokenizer/slow/mecab_words.h"

namespace winnow::tok {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/winnow-slow-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content) const {
    const std::string p = path_ + "/" + name;
    const size_t slash = name.rfind('/');
    if (slash != std::string::npos) std::system(("mkdir -p '" + path_ + "/" + name.substr(0, slash) + "'").c_str());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::string path_;
};

const char* kVocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\nun\n##aff\n";

std::vector<int32_t> Ids(const Tokenizer& t, const std::string& text) {
  Encoding e;
  EXPECT_TRUE(t.Encode(text, nullptr, EncodeOptions(), &e).ok());
  return e.ids;
}

TEST(SlowTokenizerTest, VocabTxtBertWithItsDefaults) {
  TempDir d;
  d.Write("vocab.txt", kVocab);
  d.Write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizer"})");
  auto t = LoadTokenizerFolder(d.path());
  ASSERT_TRUE(t.ok()) << t.status().message();
  // do_lower_case defaults to true; [CLS] A [SEP]; unknown words are [UNK]; ## continues a word.
  EXPECT_EQ(Ids(**t, "Hello WORLDs unaff zzz"), (std::vector<int32_t>{2, 5, 6, 7, 8, 9, 1, 3}));
}

TEST(SlowTokenizerTest, CrLfAndCrLinesAsPythonReadsThem) {
  TempDir d;
  std::string crlf = kVocab;
  for (size_t p = 0; (p = crlf.find('\n', p)) != std::string::npos; p += 2) crlf.replace(p, 1, "\r\n");
  d.Write("vocab.txt", crlf);
  d.Write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizerFast", "do_lower_case": false})");
  auto t = LoadTokenizerFolder(d.path());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(Ids(**t, "hello Hello"), (std::vector<int32_t>{2, 5, 1, 3}));
}

TEST(SlowTokenizerTest, MalformedFoldersAreCodedErrors) {
  {
    TempDir d;  // no unk token in the vocabulary
    d.Write("vocab.txt", "[CLS]\n[SEP]\nhello\n");
    d.Write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizer"})");
    auto t = LoadTokenizerFolder(d.path());
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), codes::kTokenizerInvalid);
    EXPECT_NE(t.status().message().find("vocab.txt: has no unknown token \"[UNK]\""), std::string::npos);
  }
  {
    TempDir d;  // an added token whose id the vocabulary contradicts
    d.Write("vocab.txt", kVocab);
    d.Write("tokenizer_config.json",
            R"({"tokenizer_class": "BertTokenizer", "added_tokens_decoder": {"7": {"content": "[MASK]", "special": true}}})");
    auto t = LoadTokenizerFolder(d.path());
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), codes::kTokenizerUnsupported);
    EXPECT_NE(t.status().message().find("token \"[MASK]\" has id 7"), std::string::npos) << t.status().message();
  }
  {
    TempDir d;  // a wrong type in tokenizer_config.json
    d.Write("vocab.txt", kVocab);
    d.Write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizer", "do_lower_case": "yes"})");
    auto t = LoadTokenizerFolder(d.path());
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), codes::kTokenizerInvalid);
    EXPECT_NE(t.status().message().find("do_lower_case must be true or false"), std::string::npos);
  }
  {
    TempDir d;  // a sentencepiece class without its model file
    d.Write("tokenizer_config.json", R"({"tokenizer_class": "XLMRobertaTokenizer"})");
    auto t = LoadTokenizerFolder(d.path());
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), codes::kModelNotFound);
    EXPECT_NE(t.status().message().find("sentencepiece.bpe.model"), std::string::npos);
  }
  {
    TempDir d;  // vocab.txt not UTF-8
    d.Write("vocab.txt", "[UNK]\n\xff\xfe\n");
    d.Write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizer"})");
    auto t = LoadTokenizerFolder(d.path());
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), codes::kTokenizerInvalid);
    EXPECT_NE(t.status().message().find("line 2 is not valid UTF-8"), std::string::npos);
  }
  {
    TempDir d;  // a FIFO named vocab.txt is refused before any read, not waited on
    ASSERT_EQ(mkfifo((d.path() + "/vocab.txt").c_str(), 0600), 0);
    d.Write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizer"})");
    auto t = LoadTokenizerFolder(d.path());
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), codes::kIo);
  }
}

TEST(SlowTokenizerTest, DictionarySearchOrder) {
  TempDir d;
  const std::string site = d.path() + "/site-packages", sys = d.path() + "/dic";
  d.Write("site-packages/unidic_lite/dicdir/sys.dic", "x");
  d.Write("dic/unidic/sys.dic", "x");
  d.Write("dic/ipadic/sys.dic", "x");
  d.Write("named/sys.dic", "x");
  slow::DictionaryPlaces places{{site}, {sys}};
  auto found = [&](const std::string& option, const std::string& env, const std::string& dic) {
    auto r = slow::FindMecabDictionary(option, env, dic, places);
    return r.ok() ? *r : r.status().code() + std::string(": ") + r.status().message();
  };
  // The option, then WINNOW_MECAB_DICDIR, then the Python package, then the system folder.
  EXPECT_EQ(found(d.path() + "/named", site, "unidic_lite"), d.path() + "/named");
  EXPECT_EQ(found("", d.path() + "/named", "unidic_lite"), d.path() + "/named");
  EXPECT_EQ(found("", "", "unidic_lite"), site + "/unidic_lite/dicdir");
  EXPECT_EQ(found("", "", "unidic"), sys + "/unidic");
  EXPECT_EQ(found("", "", "ipadic"), sys + "/ipadic");
  // A named folder without sys.dic is not passed over for another.
  const std::string bad = found(d.path() + "/site-packages", "", "unidic_lite");
  EXPECT_EQ(bad.rfind(codes::kModelNotFound, 0), 0u) << bad;
  EXPECT_NE(bad.find("the mecabDictionary option names"), std::string::npos);
  // Nothing found: every folder tried, and how to get one.
  slow::DictionaryPlaces empty{{site + "-none"}, {sys + "-none"}};
  auto none = slow::FindMecabDictionary("", "", "unidic_lite", empty);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), codes::kModelNotFound);
  for (const std::string& s : {site + "-none/unidic_lite/dicdir", sys + "-none/unidic", std::string("pip install unidic-lite"),
                               std::string("apt-get install unidic-mecab or mecab-ipadic-utf8"),
                               std::string("WINNOW_MECAB_DICDIR")})
    EXPECT_NE(none.status().message().find(s), std::string::npos) << s << "\n" << none.status().message();
  // A dictionary name Winnow does not know, or none, needs a named folder.
  EXPECT_EQ(slow::FindMecabDictionary("", "", "jumandic", places).status().code(), codes::kTokenizerUnsupported);
  EXPECT_EQ(slow::FindMecabDictionary("", "", "", places).status().code(), codes::kTokenizerUnsupported);
}

}  // namespace
}  // namespace winnow::tok
