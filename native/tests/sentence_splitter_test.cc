#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pipelines/sentence_splitter.h"

namespace winnow::pipelines {
namespace {

std::vector<std::string> Split(const std::string& text, Language lang = Language::kAuto) {
  std::vector<std::string> out;
  size_t prev = 0;
  for (auto [b, e] : SplitSentences(text, lang)) {
    EXPECT_EQ(b, prev) << "sentences must be contiguous";
    EXPECT_LT(b, e);
    out.push_back(text.substr(b, e - b));
    prev = e;
  }
  EXPECT_EQ(prev, text.size()) << "sentences must cover the text";
  return out;
}

using V = std::vector<std::string>;

TEST(SentenceSplitter, EnglishBasics) {
  EXPECT_EQ(Split("Hello world. How are you? Fine!"), (V{"Hello world. ", "How are you? ", "Fine!"}));
  EXPECT_EQ(Split("Wait... What?! No."), (V{"Wait... ", "What?! ", "No."}));
  EXPECT_EQ(Split("One sentence without end"), (V{"One sentence without end"}));
  EXPECT_EQ(Split(""), V{});
}

TEST(SentenceSplitter, EnglishAbbreviationsAndNumbers) {
  EXPECT_EQ(Split("Mr. Smith met Dr. Jones in the U.S. last year. Pi is 3.14 roughly. Ok."),
            (V{"Mr. Smith met Dr. Jones in the U.S. last year. ", "Pi is 3.14 roughly. ", "Ok."}));
  EXPECT_EQ(Split("Use tools, e.g. hammers. J. R. R. Tolkien wrote it."),
            (V{"Use tools, e.g. hammers. ", "J. R. R. Tolkien wrote it."}));
  EXPECT_EQ(Split("It costs approx. three dollars. Born in 1990. Then left."),
            (V{"It costs approx. three dollars. ", "Born in 1990. ", "Then left."}));
}

TEST(SentenceSplitter, EnglishQuotesBulletsLineBreaks) {
  EXPECT_EQ(Split("He said \"Stop.\" Then he left. (See above.) Next."),
            (V{"He said \"Stop.\" ", "Then he left. ", "(See above.) ", "Next."}));
  EXPECT_EQ(Split("Items:\n- apples\n- pears\n\n1. First item\n2. Second item"),
            (V{"Items:\n", "- apples\n", "- pears\n\n", "1. First item\n", "2. Second item"}));
  EXPECT_EQ(Split("  \nLeading space. Trailing space.  \n "), (V{"  \nLeading space. ", "Trailing space.  \n "}));
  EXPECT_EQ(Split("   "), (V{"   "}));
}

TEST(SentenceSplitter, Japanese) {
  EXPECT_EQ(Split("東京は日本の首都です。大阪は大きい都市です！本当ですか？"),
            (V{"東京は日本の首都です。", "大阪は大きい都市です！", "本当ですか？"}));
  EXPECT_EQ(Split("彼は「こんにちは。」と言った。そして（笑）帰った．おわり"),
            (V{"彼は「こんにちは。」", "と言った。", "そして（笑）帰った．", "おわり"}));
  EXPECT_EQ(Split("えっ！？本当に。。。\n次の行です。"), (V{"えっ！？", "本当に。。。\n", "次の行です。"}));
  // Japanese terminators only split Japanese text.
  EXPECT_EQ(Split("東京は首都です。大阪", Language::kEnglish), (V{"東京は首都です。大阪"}));
}

TEST(SentenceSplitter, DetectsLanguage) {
  EXPECT_EQ(DetectLanguage("This is English text."), Language::kEnglish);
  EXPECT_EQ(DetectLanguage("これは日本語の文章です。"), Language::kJapanese);
  EXPECT_EQ(DetectLanguage("東京大学"), Language::kEnglish);  // no kana
  EXPECT_EQ(DetectLanguage("A long English sentence about many things with の"), Language::kEnglish);
}

TEST(SentenceSplitter, ConcatenationPropertyOnNoisyText) {
  const std::string pieces[] = {"a", ".", " ", "!", "?", "\n", "。", "」", "Mr", "3", "x", "é", "\"", "U.S", "\xff"};
  uint32_t seed = 7;
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    const int len = static_cast<int>((seed = seed * 1103515245 + 12345) >> 16) % 30;
    for (int k = 0; k < len; ++k) s += pieces[((seed = seed * 1103515245 + 12345) >> 16) % 15];
    for (Language lang : {Language::kEnglish, Language::kJapanese, Language::kAuto}) {
      std::string joined;
      for (auto [b, e] : SplitSentences(s, lang)) joined += s.substr(b, e - b);
      ASSERT_EQ(joined, s);
    }
  }
}

}  // namespace
}  // namespace winnow::pipelines
