// NormalizedString: a normalized UTF-8 string that remembers, for every normalized byte, the byte
// range of the original input it came from (as Hugging Face's NormalizedString does). Alignments
// here are absolute offsets into the whole input text, so slices never need a shift.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace winnow::tok {

using Align = std::pair<uint32_t, uint32_t>;  // [start, end) in the original text

// One transformation step, as HF's NormalizedString::transform consumes it: `change` = 0 replaces
// one original char, +1 inserts a char, -n replaces one char and also removes the n that follow.
struct CharChange {
  uint32_t cp;
  int32_t change;
};

class NormalizedString {
 public:
  NormalizedString() = default;
  // Identity string over original[begin, end).
  NormalizedString(std::string_view text, uint32_t base_offset);

  const std::string& get() const { return normalized_; }
  const std::vector<Align>& alignments() const { return align_; }
  bool empty() const { return normalized_.empty(); }
  size_t size() const { return normalized_.size(); }
  // Original range covered by this string (HF offsets_original()).
  uint32_t original_start() const { return orig_start_; }
  uint32_t original_end() const { return orig_end_; }

  // Slice [begin, end) of the normalized bytes (must be char boundaries).
  NormalizedString Slice(size_t begin, size_t end) const;

  // Maps normalized byte range [begin, end) to an original range (HF convert_offsets for
  // Range::Normalized followed by the shift into the full input).
  Align ToOriginal(size_t begin, size_t end) const;

  // HF transform(dest, initial_offset) over the whole string.
  void Transform(const std::vector<CharChange>& changes, size_t initial_offset);

  // Map every char to zero or more chars (F: void(uint32_t cp, auto emit)). The first emitted char
  // replaces the input char, the others are insertions; emitting nothing removes the char.
  template <class F>
  void MapChars(F&& f);

  // Direct access for fast paths that keep a 1:1 byte mapping.
  std::string* mutable_normalized() { return &normalized_; }
  std::vector<Align>* mutable_alignments() { return &align_; }
  void Assign(std::string normalized, std::vector<Align> align) {
    normalized_ = std::move(normalized);
    align_ = std::move(align);
  }

  // Lowercase (Rust char::to_lowercase per char), NFD/NFC/NFKD/NFKC, strip, filter helpers.
  void Lowercase();
  void Nfd();
  void Nfkd();
  void Nfc();
  void Nfkc();
  void Prepend(std::string_view s);
  // GPT-2 byte-level mapping: every byte becomes its bytes_to_unicode char; the first char of an
  // original char replaces it, the others are insertions (HF ByteLevel normalize / pre-tokenize).
  void ByteLevel();
  // Replaces every occurrence of the ASCII char `c` by `with` (HF replace with a char pattern: the
  // new chars are insertions aligned with the replaced char).
  void ReplaceAsciiChar(char c, std::string_view with);
  // Strips Rust-whitespace on the left and/or right.
  void Strip(bool left, bool right);

 private:
  std::string normalized_;
  std::vector<Align> align_;
  uint32_t orig_start_ = 0;
  uint32_t orig_end_ = 0;
};

}  // namespace winnow::tok

#include "tokenizer/unicode.h"

namespace winnow::tok {

template <class F>
void NormalizedString::MapChars(F&& f) {
  std::string out;
  std::vector<Align> al;
  out.reserve(normalized_.size() + 8);
  al.reserve(normalized_.size() + 8);
  size_t i = 0;
  const std::string_view s(normalized_);
  while (i < s.size()) {
    int len;
    uint32_t cp = unicode::Decode(s, i, &len);
    bool first = true;
    const Align replace_al = align_[i];
    const Align insert_al = align_[i + len - 1];
    f(cp, [&](uint32_t c) {
      char buf[4];
      int n = unicode::Encode(c, buf);
      out.append(buf, n);
      al.insert(al.end(), n, first ? replace_al : insert_al);
      first = false;
    });
    i += len;
  }
  normalized_ = std::move(out);
  align_ = std::move(al);
}

}  // namespace winnow::tok
