// A compiled MeCab dictionary folder (sys.dic, unk.dic, char.bin, matrix.bin, dicrc) read without libmecab.
// Every file is mapped and checked once at load (sizes, every token's context ids against the matrix, every
// double-array leaf against the token table, every feature offset), so segmentation reads it without checks
// beyond the double-array's own index bound. Only UTF-8 dictionaries are supported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mmap.h"
#include "common/status.h"

namespace winnow::mecab {

// One token record of sys.dic / unk.dic (16 bytes on disk, little-endian).
struct Token {
  uint16_t left_id;   // row of the connection matrix when this word is on the right
  uint16_t right_id;  // column when it is on the left
  uint16_t pos_id;
  int16_t cost;       // word cost
  uint32_t feature;   // byte offset of its NUL-terminated feature string in the feature block
  uint32_t compound;
};

// char.bin's per-code-point entry, unpacked from its 32-bit bit field.
struct CharInfo {
  uint32_t type = 0;          // bit mask of the categories the character belongs to
  uint32_t default_type = 0;  // the category whose unknown-word rules apply
  uint32_t length = 0;        // unknown words of 1..length characters are proposed
  bool group = false;         // propose the whole run of same-category characters
  bool invoke = false;        // propose unknown words even where the dictionary matched
  bool IsKindOf(const CharInfo& c) const { return (type & c.type) != 0; }
};

// One file of the double-array + tokens + features layout (sys.dic, unk.dic).
class LexiconFile {
 public:
  // Opens and checks `path`. `expected_type` is 0 for a system dictionary, 2 for unk.dic, -1 for any.
  // `lsize` / `rsize` are the connection matrix's sizes every token's context ids must fit.
  static StatusOr<LexiconFile> Open(const std::string& path, int expected_type);
  Status CheckContextIds(uint32_t lsize, uint32_t rsize) const;

  // Calls fn(value, length) for each dictionary key that is a prefix of key[0, len), shortest first, the
  // way Darts' commonPrefixSearch does. value = (first token << 8) | token count.
  template <class Fn>
  void CommonPrefixSearch(const uint8_t* key, size_t len, Fn&& fn) const;
  // The value stored for exactly `key`, or -1.
  int32_t ExactMatch(std::string_view key) const;

  Token token(size_t i) const {  // i < num_tokens(), checked by the caller's value validation at load
    Token t;
    std::memcpy(&t, tokens_ + i * kTokenSize, kTokenSize);
    return t;
  }
  size_t num_tokens() const { return num_tokens_; }
  // The feature string of a token (its offset was checked at load; the block ends with a NUL).
  std::string_view feature(const Token& t) const { return std::string_view(features_ + t.feature); }

  uint32_t type() const { return type_; }
  uint32_t lsize() const { return lsize_; }
  uint32_t rsize() const { return rsize_; }
  const std::string& charset() const { return charset_; }
  const std::string& path() const { return file_.path(); }

  static constexpr size_t kHeaderSize = 40 + 32;  // ten uint32 fields, then the 32-byte charset name
  static constexpr size_t kTokenSize = 16;
  static constexpr size_t kUnitSize = 8;  // double-array unit: int32 base, uint32 check

 private:
  int32_t base(uint32_t i) const {
    int32_t v;
    std::memcpy(&v, units_ + size_t{i} * kUnitSize, 4);
    return v;
  }
  uint32_t check(uint32_t i) const {
    uint32_t v;
    std::memcpy(&v, units_ + size_t{i} * kUnitSize + 4, 4);
    return v;
  }

  MappedFile file_;
  const uint8_t* units_ = nullptr;  // [num_units_ * kUnitSize]
  uint32_t num_units_ = 0;
  const uint8_t* tokens_ = nullptr;  // [num_tokens_ * kTokenSize]
  size_t num_tokens_ = 0;
  const char* features_ = nullptr;  // [fsize], ends with a NUL when fsize > 0
  size_t fsize_ = 0;
  uint32_t type_ = 0, lexsize_ = 0, lsize_ = 0, rsize_ = 0;
  std::string charset_;
};

// The whole dictionary folder.
class Dictionary {
 public:
  // Opens `dir`: a missing or unreadable file is IO_ERROR, a malformed one TOKENIZER_INVALID naming the file
  // and what is wrong, a dictionary in another charset than UTF-8 TOKENIZER_UNSUPPORTED.
  static StatusOr<std::shared_ptr<const Dictionary>> Open(const std::string& dir);

  const LexiconFile& system() const { return sys_; }
  const LexiconFile& unknown() const { return unk_; }

  // Category info of a code point as MeCab computes it (UCS-2 only; see CharAt in segmenter.cc).
  CharInfo char_info(uint32_t ucs2) const { return Unpack(char_map_[ucs2 & 0xFFFF]); }
  CharInfo space_info() const { return char_info(0x20); }
  size_t num_categories() const { return category_names_.size(); }
  const std::string& category_name(size_t i) const { return category_names_[i]; }
  // The unk.dic tokens of category i: [first, first + count).
  std::pair<uint32_t, uint32_t> unknown_tokens(size_t category) const { return unk_tokens_[category]; }

  // Connection cost of a left word's right_id followed by a right word's left_id.
  int connection_cost(uint16_t right_id, uint16_t left_id) const {
    int16_t v;
    std::memcpy(&v, matrix_ + (size_t{right_id} + size_t{lsize_} * left_id) * 2, 2);
    return v;
  }
  const uint8_t* matrix_row(uint16_t left_id) const { return matrix_ + size_t{lsize_} * left_id * 2; }
  uint32_t lsize() const { return lsize_; }
  uint32_t rsize() const { return rsize_; }

  // dicrc's key = value settings (empty when the folder has no dicrc).
  const std::map<std::string, std::string>& settings() const { return settings_; }
  // dicrc's unk-feature: when set, the feature of every unknown word, as in libmecab.
  const std::string& unknown_feature() const { return unknown_feature_; }

 private:
  static CharInfo Unpack(uint32_t v) {
    CharInfo c;
    c.type = v & 0x3FFFF;
    c.default_type = (v >> 18) & 0xFF;
    c.length = (v >> 26) & 0xF;
    c.group = (v >> 30) & 1;
    c.invoke = (v >> 31) & 1;
    return c;
  }

  LexiconFile sys_, unk_;
  MappedFile matrix_file_;
  const uint8_t* matrix_ = nullptr;  // int16 [rsize_][lsize_], little-endian
  uint32_t lsize_ = 0, rsize_ = 0;
  std::vector<uint32_t> char_map_;  // [0x10000]: char.bin's 0xFFFF entries, then 0 for U+FFFF (as MeCab reads it)
  std::vector<std::string> category_names_;
  std::vector<std::pair<uint32_t, uint32_t>> unk_tokens_;  // per category
  std::map<std::string, std::string> settings_;
  std::string unknown_feature_;
};

template <class Fn>
void LexiconFile::CommonPrefixSearch(const uint8_t* key, size_t len, Fn&& fn) const {
  // A unit p is a child of state b for byte c when check(p) == b with p = b + c + 1; a key ends at state b
  // when unit b (the child for the terminator 0) has check b and a negative base ~value.
  uint32_t b = static_cast<uint32_t>(base(0));
  for (size_t i = 0; i < len; ++i) {
    if (b < num_units_ && check(b) == b) {
      const int32_t n = base(b);
      if (n < 0) fn(~n, i);
    }
    const uint32_t p = b + key[i] + 1;
    if (p >= num_units_ || check(p) != b) return;
    b = static_cast<uint32_t>(base(p));
  }
  if (b < num_units_ && check(b) == b) {
    const int32_t n = base(b);
    if (n < 0) fn(~n, len);
  }
}

}  // namespace winnow::mecab
