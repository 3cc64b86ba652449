// MeCab dictionary reader and segmenter (native/core/mecab): a tiny dictionary built here byte by byte (the
// compiled format: double array, tokens, features, char.bin, matrix.bin), segmentation by cost with
// libmecab's unknown-word rules and tie-breaking, and broken files (truncated at every offset, bytes flipped,
// hostile sizes and indices), each a coded error or a dictionary that segments without reading out of bounds.
// With /var/lib/mecab/dic/ipadic-utf8 present, a few sentences against `mecab -Owakati`'s output.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "mecab/dictionary.h"
#include "mecab/segmenter.h"

namespace winnow::mecab {
namespace {

// ---- building a compiled dictionary ----------------------------------------------------------------------

struct Entry {
  std::string surface;
  uint16_t left_id, right_id;
  int16_t cost;
  std::string feature;
};

template <class T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Darts-style double array over keys (code = byte + 1, 0 ends a key): child of state b for code c at b + c.
class DoubleArrayBuilder {
 public:
  std::vector<std::pair<int32_t, uint32_t>> Build(const std::vector<std::pair<std::string, int32_t>>& keys) {
    units_.assign(1, {0, 0});
    used_.assign(1, true);  // the root
    Place(keys, 0, keys.size(), 0, 0);
    units_.resize(units_.size() + 257, {0, 0});  // as Darts pads: any state's children stay in the array
    return units_;
  }

 private:
  static int Code(const std::string& k, size_t depth) {
    return depth < k.size() ? static_cast<unsigned char>(k[depth]) + 1 : 0;
  }
  void Ensure(size_t n) {
    if (units_.size() < n) {
      units_.resize(n, {0, 0});
      used_.resize(n, false);
    }
  }
  // keys[l, r) share their first `depth` bytes and hang below state unit `state`.
  void Place(const std::vector<std::pair<std::string, int32_t>>& keys, size_t l, size_t r, size_t depth,
             size_t state) {
    std::vector<std::pair<int, std::pair<size_t, size_t>>> children;
    for (size_t i = l; i < r;) {
      const int c = Code(keys[i].first, depth);
      size_t j = i;
      while (j < r && Code(keys[j].first, depth) == c) ++j;
      children.push_back({c, {i, j}});
      i = j;
    }
    size_t base = 1;
    for (;; ++base) {
      Ensure(base + 257);
      if (base_taken_.count(base)) continue;
      bool ok = true;
      for (const auto& ch : children) ok = ok && !used_[base + ch.first];
      if (ok) break;
    }
    base_taken_.insert({base, true});
    units_[state].first = static_cast<int32_t>(base);
    for (const auto& ch : children) {
      used_[base + ch.first] = true;
      units_[base + ch.first].second = static_cast<uint32_t>(base);
    }
    for (const auto& ch : children) {
      if (ch.first == 0) {
        units_[base].first = ~keys[ch.second.first].second;  // a leaf: base = ~value
      } else {
        Place(keys, ch.second.first, ch.second.second, depth + 1, base + ch.first);
      }
    }
  }

  std::vector<std::pair<int32_t, uint32_t>> units_;
  std::vector<bool> used_;
  std::map<size_t, bool> base_taken_;
};

std::string Lexicon(const std::vector<Entry>& entries, uint32_t type, uint16_t lsize, uint16_t rsize,
                    const std::string& charset = "UTF-8") {
  std::map<std::string, std::vector<Entry>> by_surface;
  for (const Entry& e : entries) by_surface[e.surface].push_back(e);
  std::string tokens, features;
  std::vector<std::pair<std::string, int32_t>> keys;
  uint32_t n = 0;
  for (const auto& [surface, list] : by_surface) {
    keys.push_back({surface, static_cast<int32_t>((n << 8) | list.size())});
    for (const Entry& e : list) {
      Put(&tokens, e.left_id);
      Put(&tokens, e.right_id);
      Put<uint16_t>(&tokens, 0);
      Put(&tokens, e.cost);
      Put(&tokens, static_cast<uint32_t>(features.size()));
      Put<uint32_t>(&tokens, 0);
      features += e.feature;
      features += '\0';
      ++n;
    }
  }
  std::string da;
  for (const auto& [b, c] : DoubleArrayBuilder().Build(keys)) {
    Put(&da, b);
    Put(&da, c);
  }
  std::string out;
  const uint32_t size = static_cast<uint32_t>(72 + da.size() + tokens.size() + features.size());
  for (uint32_t v : {size ^ 0xef718f77u, 102u, type, static_cast<uint32_t>(entries.size()), uint32_t{lsize},
                     uint32_t{rsize}, static_cast<uint32_t>(da.size()), static_cast<uint32_t>(tokens.size()),
                     static_cast<uint32_t>(features.size()), 0u}) {
    Put(&out, v);
  }
  std::string cs = charset;
  cs.resize(32, '\0');
  return out + cs + da + tokens + features;
}

struct Category {
  std::string name;
  bool invoke, group;
  uint32_t length;
};

uint32_t Pack(uint32_t type, uint32_t default_type, uint32_t length, bool group, bool invoke) {
  return type | default_type << 18 | length << 26 | uint32_t{group} << 30 | uint32_t{invoke} << 31;
}

// The tiny dictionary: context ids 0 (BOS/EOS), 1 noun, 2 particle, 3 verb.
struct Tiny {
  std::vector<Category> categories = {
      {"DEFAULT", false, true, 0}, {"SPACE", false, true, 0},   {"KANJI", false, false, 2},
      {"HIRAGANA", false, true, 2}, {"KATAKANA", true, true, 2}, {"ALPHA", true, true, 0},
  };
  std::vector<Entry> words = {
      {"東京", 1, 1, 100, "名詞,東京"}, {"東", 1, 1, 200, "名詞,東"},     {"京都", 1, 1, 100, "名詞,京都"},
      {"都", 1, 1, 200, "名詞,都"},     {"東京都", 1, 1, 150, "名詞,東京都"}, {"に", 2, 2, 10, "助詞,に"},
      {"は", 2, 2, 10, "助詞,は"},      {"行く", 3, 3, 50, "動詞,行く"},   {"カタ", 1, 1, 100, "名詞,カタ"},
  };
  std::string sys, unk, chars, matrix, dicrc = "; tiny\ncost-factor = 800\nbos-feature = BOS/EOS,*\n";

  Tiny() {
    sys = Lexicon(words, 0, 4, 4);
    std::vector<Entry> unknown;
    for (const Category& c : categories) unknown.push_back({c.name, 1, 1, 5000, "未知語," + c.name});
    unk = Lexicon(unknown, 2, 4, 4);
    Put(&chars, static_cast<uint32_t>(categories.size()));
    for (const Category& c : categories) {
      std::string name = c.name;
      name.resize(32, '\0');
      chars += name;
    }
    auto info = [&](size_t id) {
      const Category& c = categories[id];
      return Pack(1u << id, static_cast<uint32_t>(id), c.length, c.group, c.invoke);
    };
    for (uint32_t cp = 0; cp < 0xFFFF; ++cp) {
      size_t id = 0;
      if (cp == 0x20 || cp == 0x09) id = 1;
      else if (cp >= 0x4E00 && cp <= 0x9FFF) id = 2;
      else if (cp >= 0x3041 && cp <= 0x309F) id = 3;
      else if (cp >= 0x30A1 && cp <= 0x30FF) id = 4;
      else if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) id = 5;
      Put(&chars, info(id));
    }
    Put<uint16_t>(&matrix, 4);
    Put<uint16_t>(&matrix, 4);
    for (int lc = 0; lc < 4; ++lc) {
      for (int rc = 0; rc < 4; ++rc) Put<int16_t>(&matrix, (lc == rc && lc != 0) ? 1000 : 0);  // no noun + noun
    }
  }
};

class TempDir {
 public:
  TempDir() {
    struct stat st;
    std::string tmpl = ::stat("/dev/shm", &st) == 0 ? "/dev/shm/winnow-mecab-XXXXXX" : "/tmp/winnow-mecab-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  // A new file renamed over the old one: a dictionary still mapping the old file keeps seeing it.
  void Write(const std::string& name, const std::string& bytes) const {
    const std::string tmp = path_ + "/.new";
    std::ofstream(tmp, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ::rename(tmp.c_str(), (path_ + "/" + name).c_str());
  }
  void Remove(const std::string& name) const { ::unlink((path_ + "/" + name).c_str()); }

 private:
  std::string path_;
};

void WriteTiny(const TempDir& dir, const Tiny& t) {
  dir.Write("sys.dic", t.sys);
  dir.Write("unk.dic", t.unk);
  dir.Write("char.bin", t.chars);
  dir.Write("matrix.bin", t.matrix);
  dir.Write("dicrc", t.dicrc);
}

std::string Wakati(const Segmenter& s, const std::string& text) {
  std::vector<Word> words;
  const Status st = s.Segment(text, &words);
  EXPECT_TRUE(st.ok()) << st.ToString();
  std::string out;
  for (const Word& w : words) {
    if (!out.empty()) out += ' ';
    out += text.substr(w.byte_begin, w.byte_end - w.byte_begin);
  }
  return out;
}

Segmenter OpenTiny(const TempDir& dir, const Tiny& t = Tiny()) {
  WriteTiny(dir, t);
  auto d = Dictionary::Open(dir.path());
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  SegmenterOptions o;
  o.features = true;
  return Segmenter(d.ok() ? *d : nullptr, o);
}

// ---- segmentation on the tiny dictionary -----------------------------------------------------------------

TEST(MecabTest, ReadsTheTinyDictionary) {
  TempDir dir;
  WriteTiny(dir, Tiny());
  auto d = Dictionary::Open(dir.path());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)->lsize(), 4u);
  EXPECT_EQ((*d)->num_categories(), 6u);
  EXPECT_EQ((*d)->category_name(4), "KATAKANA");
  EXPECT_EQ((*d)->settings().at("cost-factor"), "800");
  EXPECT_EQ((*d)->connection_cost(1, 1), 1000);
  EXPECT_EQ((*d)->connection_cost(2, 1), 0);
  EXPECT_EQ((*d)->system().ExactMatch("東京都") & 0xFF, 1);
  EXPECT_EQ((*d)->system().ExactMatch("東京都に"), -1);
  EXPECT_TRUE((*d)->char_info(0x30AB).invoke);
  EXPECT_EQ((*d)->char_info(0x6771).length, 2u);
}

TEST(MecabTest, TheCheapestPathWins) {
  TempDir dir;
  const Segmenter s = OpenTiny(dir);
  EXPECT_EQ(Wakati(s, "東京都に行く"), "東京都 に 行く");  // 150 beats 東京 + 都 (100 + 200 + 1000)
  EXPECT_EQ(Wakati(s, "京都は東京"), "京都 は 東京");
  EXPECT_EQ(Wakati(s, ""), "");
}

TEST(MecabTest, OffsetsFeaturesAndSkippedSpaces) {
  TempDir dir;
  const Segmenter s = OpenTiny(dir);
  const std::string text = "  東京 \tに ";
  std::vector<Word> words;
  ASSERT_TRUE(s.Segment(text, &words).ok());
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(words[0].byte_begin, 2u);  // the leading spaces belong to no word
  EXPECT_EQ(words[0].byte_end, 8u);
  EXPECT_EQ(words[0].char_begin, 2u);
  EXPECT_EQ(words[0].char_end, 4u);
  EXPECT_EQ(words[0].feature, "名詞,東京");
  EXPECT_FALSE(words[0].unknown);
  EXPECT_EQ(words[1].byte_begin, 10u);
  EXPECT_EQ(words[1].char_begin, 6u);
  EXPECT_EQ(words[1].char_end, 7u);
  EXPECT_EQ(words[1].feature, "助詞,に");
}

TEST(MecabTest, UnknownWordsFollowTheCategoryRules) {
  TempDir dir;
  const Segmenter s = OpenTiny(dir);
  // KATAKANA invokes unknown words even where the dictionary has カタ: the grouped カタカナ (5000) beats
  // カタ + カナ (100 + 5000 + 1000).
  EXPECT_EQ(Wakati(s, "カタカナ"), "カタカナ");
  std::vector<Word> words;
  ASSERT_TRUE(s.Segment("カタカナ", &words).ok());
  EXPECT_TRUE(words[0].unknown);
  EXPECT_EQ(words[0].feature, "未知語,KATAKANA");
  // ALPHA groups runs, spaces end them.
  EXPECT_EQ(Wakati(s, "abc def"), "abc def");
  // A run longer than max_grouping_size + 1 is not grouped; with length 0 a single character is proposed.
  EXPECT_EQ(Wakati(s, std::string(30, 'a')), "a a a a a " + std::string(25, 'a'));
  // KANJI proposes 1 or 2 characters and no group. 峠峠|峠 and 峠|峠峠 cost the same: libmecab keeps the path
  // whose last word was connected last (峠 at 6..9 heads the end list at 9).
  EXPECT_EQ(Wakati(s, "峠峠峠"), "峠峠 峠");
  // Characters outside every category's range are DEFAULT (group, length 0); 4-byte UTF-8 reads as U+0000.
  EXPECT_EQ(Wakati(s, "😀😀東京"), "😀😀 東京");
}

TEST(MecabTest, DicrcUnkFeatureNamesEveryUnknownWord) {
  TempDir dir;
  Tiny t;
  t.dicrc += "unk-feature = 未知,*\n";
  const Segmenter s = OpenTiny(dir, t);
  std::vector<Word> words;
  ASSERT_TRUE(s.Segment("カタカナに", &words).ok());
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(words[0].feature, "未知,*");
  EXPECT_EQ(words[1].feature, "助詞,に");
}

TEST(MecabTest, MaxGroupingSizeIsAnOption) {
  TempDir dir;
  WriteTiny(dir, Tiny());
  auto d = Dictionary::Open(dir.path());
  ASSERT_TRUE(d.ok());
  SegmenterOptions o;
  o.max_grouping_size = 40;
  EXPECT_EQ(Wakati(Segmenter(*d, o), std::string(30, 'a')), std::string(30, 'a'));
}

TEST(MecabTest, BytesThatAreNotUtf8AreSegmentedAsMecabDecodesThem) {
  TempDir dir;
  const Segmenter s = OpenTiny(dir);
  for (const std::string text : {std::string("\x80\x81\xe3"), std::string("\xe3\x81"), std::string("\xf0\x9f"),
                                 std::string("a\0b", 3), std::string("\xfc\x80\x80\x80\x80\x80\xf8")}) {
    std::vector<Word> words;
    ASSERT_TRUE(s.Segment(text, &words).ok());
    size_t covered = 0;
    for (const Word& w : words) {
      EXPECT_LE(w.byte_end, text.size());
      EXPECT_LT(w.byte_begin, w.byte_end);
      covered += w.byte_end - w.byte_begin;
    }
    EXPECT_EQ(covered, text.size());
  }
}

TEST(MecabTest, OneLatticeServesManyTexts) {
  TempDir dir;
  const Segmenter s = OpenTiny(dir);
  Lattice lattice;
  std::vector<Word> a, b;
  ASSERT_TRUE(s.Segment("東京都に行く", &lattice, &a).ok());
  ASSERT_TRUE(s.Segment("カタカナ abc", &lattice, &b).ok());
  ASSERT_TRUE(s.Segment("東京都に行く", &lattice, &b).ok());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].byte_end, b[i].byte_end);
}

// ---- broken files ------------------------------------------------------------------------------------------

// Opens the tiny dictionary with `file` replaced by `bytes` (one folder for the whole test binary).
StatusOr<std::shared_ptr<const Dictionary>> OpenWith(const std::string& file, const std::string& bytes) {
  static const Tiny tiny;
  static const TempDir folder;
  static const TempDir* dir = [] {
    WriteTiny(folder, tiny);
    return &folder;
  }();
  const std::map<std::string, const std::string*> originals = {{"sys.dic", &tiny.sys}, {"unk.dic", &tiny.unk},
      {"char.bin", &tiny.chars}, {"matrix.bin", &tiny.matrix}, {"dicrc", &tiny.dicrc}};
  dir->Write(file, bytes);
  auto d = Dictionary::Open(dir->path());
  dir->Write(file, *originals.at(file));
  return d;
}

// A dictionary that opened must segment anything without reading out of bounds (ASan watches).
void SegmentsSafely(const std::shared_ptr<const Dictionary>& d) {
  const Segmenter s(d, SegmenterOptions{24, true});
  std::vector<Word> words;
  for (const char* text : {"東京都に行く", "カタカナ abc def", "  峠峠峠 ", "😀あいう\xe3", ""}) {
    const Status st = s.Segment(text, &words);
    if (st.ok()) {
      for (const Word& w : words) {
        EXPECT_LE(w.byte_end, std::strlen(text));
        EXPECT_LE(w.feature.size(), 1u << 20);
      }
    } else {
      EXPECT_EQ(st.code(), codes::kInvalidArgument);
    }
  }
}

void ExpectInvalid(const StatusOr<std::shared_ptr<const Dictionary>>& d, const std::string& fragment) {
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), codes::kTokenizerInvalid) << d.status().ToString();
  EXPECT_NE(d.status().message().find(fragment), std::string::npos) << d.status().ToString();
}

TEST(MecabTest, EveryTruncationIsAnError) {
  const Tiny t;
  for (const auto& [file, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"sys.dic", t.sys}, {"unk.dic", t.unk}, {"matrix.bin", t.matrix}}) {
    for (size_t n = 0; n < bytes.size(); ++n) {
      auto d = OpenWith(file, bytes.substr(0, n));
      ASSERT_FALSE(d.ok()) << file << " cut at " << n;
      EXPECT_EQ(d.status().code(), codes::kTokenizerInvalid) << file << " cut at " << n;
      EXPECT_NE(d.status().message().find(file), std::string::npos) << d.status().ToString();
    }
    auto longer = OpenWith(file, bytes + '\0');
    ASSERT_FALSE(longer.ok()) << file << " with a byte more";
  }
  // char.bin is 262 KB: its header and names byte by byte, then every 4093rd offset and the last bytes.
  for (size_t n = 0; n < t.chars.size(); n += (n < 300 || n + 8 > t.chars.size()) ? 1 : 4093) {
    auto d = OpenWith("char.bin", t.chars.substr(0, n));
    ASSERT_FALSE(d.ok()) << "char.bin cut at " << n;
    EXPECT_EQ(d.status().code(), codes::kTokenizerInvalid);
  }
}

TEST(MecabTest, EveryFlippedByteIsAnErrorOrSafe) {
  const Tiny t;
  size_t errors = 0, opened = 0;
  for (const auto& [file, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"sys.dic", t.sys}, {"unk.dic", t.unk}, {"matrix.bin", t.matrix}}) {
    for (size_t i = 0; i < bytes.size(); ++i) {
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ (i % 3 == 0 ? 0xFF : i % 3 == 1 ? 0x80 : 0x01));
      auto d = OpenWith(file, b);
      if (d.ok()) {
        ++opened;
        SegmentsSafely(*d);
      } else {
        ++errors;
        EXPECT_TRUE(d.status().code() == codes::kTokenizerInvalid ||
                    d.status().code() == codes::kTokenizerUnsupported) << d.status().ToString();
      }
    }
  }
  // char.bin: the header, the names, and a sample of the per-character entries.
  std::mt19937 rng(7);
  for (int k = 0; k < 400; ++k) {
    std::string b = t.chars;
    const size_t i = k < 200 ? static_cast<size_t>(k) : rng() % b.size();
    b[i] = static_cast<char>(b[i] ^ (1 << (rng() % 8)));
    auto d = OpenWith("char.bin", b);
    if (d.ok()) {
      ++opened;
      SegmentsSafely(*d);
    } else {
      ++errors;
      EXPECT_EQ(d.status().code(), codes::kTokenizerInvalid) << d.status().ToString();
    }
  }
  EXPECT_GT(errors, 0u);
  EXPECT_GT(opened, 0u);
}

// Writes a uint32 / uint16 into a copy of `bytes` at `offset`.
std::string With32(std::string bytes, size_t offset, uint32_t v) {
  std::memcpy(&bytes[offset], &v, 4);
  return bytes;
}
std::string With16(std::string bytes, size_t offset, uint16_t v) {
  std::memcpy(&bytes[offset], &v, 2);
  return bytes;
}
// Offsets inside sys.dic / unk.dic.
size_t DaSize(const std::string& lex) {
  uint32_t v;
  std::memcpy(&v, &lex[24], 4);
  return v;
}
size_t TokensAt(const std::string& lex) { return 72 + DaSize(lex); }

TEST(MecabTest, HostileIndicesAndSizesAreRefusedAtLoad) {
  const Tiny t;
  ExpectInvalid(OpenWith("sys.dic", With32(t.sys, TokensAt(t.sys) + 8, 0xFFFFFFFF)), "feature offset 4294967295");
  ExpectInvalid(OpenWith("sys.dic", With16(t.sys, TokensAt(t.sys), 4)), "context ids (4, 2) outside the 4x4");
  ExpectInvalid(OpenWith("sys.dic", With16(t.sys, TokensAt(t.sys) + 2, 0xFFFF)), "outside the 4x4");
  ExpectInvalid(OpenWith("unk.dic", With16(t.unk, TokensAt(t.unk), 9)), "context ids (9, 1)");
  ExpectInvalid(OpenWith("sys.dic", With32(t.sys, 4, 101)), "version 101, expected 102");
  ExpectInvalid(OpenWith("sys.dic", With32(t.sys, 8, 1)), "dictionary type 1, expected 0");
  ExpectInvalid(OpenWith("sys.dic", With32(t.sys, 16, 5)), "differ from matrix.bin's 4x4");
  ExpectInvalid(OpenWith("sys.dic", With32(t.sys, 24, 0xFFFFFFF8)), "do not add up to the file size");
  ExpectInvalid(OpenWith("sys.dic", With32(t.sys, 0, 0x12345678)), "bad magic number");
  std::string no_nul = t.sys;
  no_nul.back() = 'x';
  ExpectInvalid(OpenWith("sys.dic", no_nul), "does not end with a NUL");
  std::string charset = t.sys;
  std::memset(&charset[40], 'x', 32);
  ExpectInvalid(OpenWith("sys.dic", charset), "charset name is not NUL-terminated");

  // A double-array leaf whose value names tokens past the table: every leaf is checked, reachable or not.
  {
    std::string b = t.sys;
    const size_t units = DaSize(b) / 8;
    bool done = false;
    for (uint32_t i = 0; i < units && !done; ++i) {
      int32_t base;
      uint32_t check;
      std::memcpy(&base, &b[72 + 8 * i], 4);
      std::memcpy(&check, &b[72 + 8 * i + 4], 4);
      if (base < 0 && check == i) {
        const int32_t hostile = ~static_cast<int32_t>((1000u << 8) | 3);
        std::memcpy(&b[72 + 8 * i], &hostile, 4);
        done = true;
      }
    }
    ASSERT_TRUE(done);
    ExpectInvalid(OpenWith("sys.dic", b), "points at tokens 1000..1003 past the 9 tokens");
  }
  // Transitions to units past the array, and a root state far away, find nothing and read nothing.
  for (const int32_t root : {INT32_MAX, -5, 0x7FFFFF00}) {
    auto d = OpenWith("sys.dic", With32(t.sys, 72, static_cast<uint32_t>(root)));
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    SegmentsSafely(*d);
    std::vector<Word> words;
    ASSERT_TRUE(Segmenter(*d).Segment("東京", &words).ok());
    for (const Word& w : words) EXPECT_TRUE(w.unknown);
  }

  ExpectInvalid(OpenWith("matrix.bin", With16(t.matrix, 0, 65535)), "a 65535x4 matrix needs 524284 bytes");
  ExpectInvalid(OpenWith("matrix.bin", With16(With16(t.matrix, 0, 65535), 2, 65535)), "matrix needs 8589672454");
  ExpectInvalid(OpenWith("matrix.bin", With16(std::string(t.matrix, 0, 4), 0, 0)), "is an empty 0x4 matrix");
  ExpectInvalid(OpenWith("char.bin", With32(t.chars, 0, 0xFFFFFFFF)), "4294967295 categories need");
  ExpectInvalid(OpenWith("char.bin", With32(t.chars, 4 + 32 * 6 + 4 * 0x41, Pack(1, 6, 0, false, false))),
                "code point 65 has category 6 of 6");
  std::string names = t.chars;
  std::memset(&names[4 + 32], 'S', 32);
  ExpectInvalid(OpenWith("char.bin", names), "category name 1 is not NUL-terminated");
  std::string renamed = t.chars;
  std::memcpy(&renamed[4 + 32 * 5], "ALPHB", 5);
  ExpectInvalid(OpenWith("char.bin", renamed), "has no entry for character category 'ALPHB'");
  ExpectInvalid(OpenWith("dicrc", "cost-factor = 800\nno equals sign\n"), "dicrc': line 2 has no '='");
}

TEST(MecabTest, OnlyUtf8DictionariesAreSupported) {
  const Tiny t;
  for (const char* ok : {"utf8", "UTF8", "utf_8", "Utf-8"}) {
    std::string b = t.sys;
    std::memset(&b[40], 0, 32);
    std::memcpy(&b[40], ok, std::strlen(ok));
    EXPECT_TRUE(OpenWith("sys.dic", b).ok()) << ok;
  }
  std::string b = t.sys;
  std::memset(&b[40], 0, 32);
  std::memcpy(&b[40], "EUC-JP", 6);
  auto d = OpenWith("sys.dic", b);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), codes::kTokenizerUnsupported);
  EXPECT_NE(d.status().message().find("is in charset 'EUC-JP'; only UTF-8 dictionaries are supported"),
            std::string::npos)
      << d.status().ToString();
}

TEST(MecabTest, MissingFilesAreIoErrorsAndDicrcIsOptional) {
  for (const char* file : {"sys.dic", "unk.dic", "char.bin", "matrix.bin"}) {
    TempDir dir;
    WriteTiny(dir, Tiny());
    dir.Remove(file);
    auto d = Dictionary::Open(dir.path());
    ASSERT_FALSE(d.ok()) << file;
    EXPECT_EQ(d.status().code(), codes::kIo);
    EXPECT_NE(d.status().message().find(file), std::string::npos) << d.status().ToString();
  }
  TempDir dir;
  WriteTiny(dir, Tiny());
  dir.Remove("dicrc");
  auto d = Dictionary::Open(dir.path());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE((*d)->settings().empty());
}

// ---- a real dictionary, when installed ----------------------------------------------------------------------

TEST(MecabTest, IpadicSentencesEqualMecabWakati) {
  const std::string dic = "/var/lib/mecab/dic/ipadic-utf8";
  struct stat st;
  if (::stat((dic + "/sys.dic").c_str(), &st) != 0) GTEST_SKIP() << "no " << dic << " (apt-get install mecab-ipadic-utf8)";
  auto d = Dictionary::Open(dic);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const Segmenter s(*d, SegmenterOptions{24, true});
  // Expected strings: `mecab -d /var/lib/mecab/dic/ipadic-utf8 -Owakati` (MeCab 0.996, mecab-ipadic 2.7.0).
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"すもももももももものうち", "すもも も もも も もも の うち"},
      {"東京都に住んでいます。", "東京 都 に 住ん で い ます 。"},
      {"ｶﾀｶﾅとＡＢＣ１２３", "ｶﾀｶﾅ と ＡＢＣ １ ２ ３"},
      {"  先頭と末尾に空白  ", "先頭 と 末尾 に 空白"},
      {"MeCabは形態素解析エンジンです", "MeCab は 形態素 解析 エンジン です"},
      {"絵文字😀も入る", "絵文字 😀 も 入る"},
      {std::string(30, 'a'), "a a a a a " + std::string(25, 'a')},
  };
  for (const auto& [text, expected] : cases) EXPECT_EQ(Wakati(s, text), expected) << text;
  std::vector<Word> words;
  ASSERT_TRUE(s.Segment("東京都に", &words).ok());
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[0].feature, "名詞,固有名詞,地域,一般,*,*,東京,トウキョウ,トーキョー");
  EXPECT_EQ(words[1].feature, "名詞,接尾,地域,*,*,*,都,ト,ト");
  EXPECT_EQ(words[1].char_begin, 2u);
  EXPECT_EQ(words[1].char_end, 3u);
}

}  // namespace
}  // namespace winnow::mecab
