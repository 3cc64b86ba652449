#include "tokenizer/normalized_string.h"

#include <utf8proc.h>

#include <algorithm>

namespace winnow::tok {

NormalizedString::NormalizedString(std::string_view text, uint32_t base_offset)
    : normalized_(text), orig_start_(base_offset), orig_end_(base_offset + static_cast<uint32_t>(text.size())) {
  align_.resize(text.size());
  for (uint32_t i = 0; i < text.size(); ++i) {
    // Every byte of a char maps to the whole char, as HF builds alignments from char_indices.
    align_[i] = {base_offset + i, base_offset + i + 1};
  }
  for (size_t i = 0; i < text.size();) {
    int n = unicode::Utf8Len(static_cast<unsigned char>(text[i]));
    if (i + n > text.size()) n = static_cast<int>(text.size() - i);
    for (int k = 0; k < n; ++k) align_[i + k] = {base_offset + static_cast<uint32_t>(i), base_offset + static_cast<uint32_t>(i + n)};
    i += n;
  }
}

NormalizedString NormalizedString::Slice(size_t begin, size_t end) const {
  NormalizedString out;
  if (begin >= end || end > normalized_.size()) {
    out.orig_start_ = out.orig_end_ = orig_start_;
    return out;
  }
  out.normalized_.assign(normalized_, begin, end - begin);
  out.align_.assign(align_.begin() + begin, align_.begin() + end);
  out.orig_start_ = align_[begin].first;
  out.orig_end_ = align_[end - 1].second;
  return out;
}

Align NormalizedString::ToOriginal(size_t begin, size_t end) const {
  if (begin == end) return {orig_start_ + static_cast<uint32_t>(begin), orig_start_ + static_cast<uint32_t>(end)};
  if (begin > end || end > align_.size()) return {orig_start_ + static_cast<uint32_t>(begin), orig_start_ + static_cast<uint32_t>(end)};
  return {align_[begin].first, align_[end - 1].second};
}

void NormalizedString::Transform(const std::vector<CharChange>& changes, size_t initial_offset) {
  const std::string_view s(normalized_);
  size_t idx = 0;
  auto skip_char = [&]() -> size_t {
    if (idx >= s.size()) return 0;
    size_t n = unicode::Utf8Len(static_cast<unsigned char>(s[idx]));
    n = std::min(n, s.size() - idx);
    idx += n;
    return n;
  };
  for (size_t k = 0; k < initial_offset; ++k) skip_char();
  std::string out;
  std::vector<Align> al;
  out.reserve(s.size() + 8);
  al.reserve(s.size() + 8);
  for (const CharChange& c : changes) {
    Align a;
    if (c.change > 0) {
      a = idx < 1 ? Align{orig_start_, orig_start_} : align_[std::min(idx, align_.size()) - 1];
    } else {
      a = idx < align_.size() ? align_[idx] : (align_.empty() ? Align{orig_start_, orig_start_} : align_.back());
      skip_char();
      for (int32_t r = 0; r < -c.change; ++r) skip_char();
    }
    char buf[4];
    int n = unicode::Encode(c.cp, buf);
    out.append(buf, n);
    al.insert(al.end(), n, a);
  }
  normalized_ = std::move(out);
  align_ = std::move(al);
}

void NormalizedString::Lowercase() {
  // ASCII fast path: 1:1 byte mapping keeps alignments as they are.
  bool ascii = true;
  for (char& ch : normalized_) {
    if (static_cast<unsigned char>(ch) >= 0x80) { ascii = false; break; }
  }
  if (ascii) {
    for (char& ch : normalized_) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
    }
    return;
  }
  MapChars([](uint32_t cp, auto emit) {
    uint32_t out[3];
    int n = unicode::ToLower(cp, out);
    for (int i = 0; i < n; ++i) emit(out[i]);
  });
}

namespace {

// Unicode normalization in the (char, change) form of unicode-normalization-alignments.
bool DecomposeChar(uint32_t cp, bool compat, std::vector<CharChange>* out) {
  utf8proc_int32_t buf[32];
  int last = 0;
  if (unicode::NoDecompositionInReference(cp, compat)) {  // decomposition added after HF's tables
    out->push_back({cp, 0});
    return false;
  }
  utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 32,
                                               static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0)),
                                               &last);
  if (n <= 0 || n > 32) {
    out->push_back({cp, 0});
    return false;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out->push_back({static_cast<uint32_t>(buf[i]), i == 0 ? 0 : 1});
  return !(n == 1 && static_cast<uint32_t>(buf[0]) == cp);
}

int Ccc(uint32_t cp) { return unicode::CombiningClass(cp); }

void Decompose(std::string_view s, bool compat, std::vector<CharChange>* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    int len;
    uint32_t cp = unicode::Decode(s, i, &len);
    i += len;
    if (cp < 0x80) { out->push_back({cp, 0}); continue; }
    DecomposeChar(cp, compat, out);
  }
  // Canonical ordering: stable sort runs of non-starters by combining class.
  size_t i = 0;
  while (i < out->size()) {
    if (Ccc((*out)[i].cp) == 0) { ++i; continue; }
    size_t j = i;
    while (j < out->size() && Ccc((*out)[j].cp) != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(out->begin() + i, out->begin() + j,
                       [](const CharChange& a, const CharChange& b) { return Ccc(a.cp) < Ccc(b.cp); });
    }
    i = j;
  }
}

uint32_t ComposePair(uint32_t a, uint32_t b) {
  // Hangul
  const uint32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21, TCount = 28;
  if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
    return SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
  if (a >= SBase && a < SBase + LCount * VCount * TCount && ((a - SBase) % TCount) == 0 && b > TBase && b < TBase + TCount)
    return a + (b - TBase);
  utf8proc_int32_t buf[2] = {static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b)};
  utf8proc_ssize_t n = utf8proc_normalize_utf32(buf, 2, UTF8PROC_COMPOSE);
  if (n != 1) return 0;
  const uint32_t c = static_cast<uint32_t>(buf[0]);
  // A composition the reference does not know (its tables lack the decomposition).
  return unicode::NoDecompositionInReference(c, false) ? 0 : c;
}

void Compose(std::vector<CharChange>* v) {
  std::vector<CharChange>& x = *v;
  std::vector<CharChange> out;
  out.reserve(x.size());
  long starter = -1;
  int last_ccc = 0;  // class of the last char kept after the starter
  for (const CharChange& c : x) {
    const int ccc = Ccc(c.cp);
    if (starter >= 0) {
      const bool adjacent = out.size() - 1 == static_cast<size_t>(starter);
      const bool blocked = !adjacent && (last_ccc == 0 || last_ccc >= ccc);
      if (!blocked) {
        uint32_t comp = ComposePair(out[starter].cp, c.cp);
        if (comp != 0) {
          out[starter].cp = comp;
          out[starter].change += c.change - 1;
          continue;
        }
      }
    }
    if (ccc == 0) {
      starter = static_cast<long>(out.size());
      last_ccc = 0;
    } else {
      last_ccc = ccc;
    }
    out.push_back(c);
  }
  x = std::move(out);
}

bool IsAscii(std::string_view s) {
  for (char c : s) if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

}  // namespace

void NormalizedString::Nfd() {
  if (IsAscii(normalized_)) return;
  std::vector<CharChange> v;
  Decompose(normalized_, false, &v);
  Transform(v, 0);
}
void NormalizedString::Nfkd() {
  if (IsAscii(normalized_)) return;
  std::vector<CharChange> v;
  Decompose(normalized_, true, &v);
  Transform(v, 0);
}
void NormalizedString::Nfc() {
  if (IsAscii(normalized_)) return;
  std::vector<CharChange> v;
  Decompose(normalized_, false, &v);
  Compose(&v);
  Transform(v, 0);
}
void NormalizedString::Nfkc() {
  if (IsAscii(normalized_)) return;
  std::vector<CharChange> v;
  Decompose(normalized_, true, &v);
  Compose(&v);
  Transform(v, 0);
}

void NormalizedString::Prepend(std::string_view s) {
  if (normalized_.empty() || s.empty()) return;
  std::vector<CharChange> v;
  bool first = true;
  for (size_t i = 0; i < s.size();) {
    int len;
    uint32_t cp = unicode::Decode(s, i, &len);
    i += len;
    v.push_back({cp, first ? 0 : 1});
    first = false;
  }
  bool first_orig = true;
  for (size_t i = 0; i < normalized_.size();) {
    int len;
    uint32_t cp = unicode::Decode(normalized_, i, &len);
    i += len;
    v.push_back({cp, first_orig ? 1 : 0});
    first_orig = false;
  }
  Transform(v, 0);
}

void NormalizedString::ByteLevel() {
  if (normalized_.empty()) return;
  // Every byte becomes a 1- or 2-byte char. Char k of original char c (spanning [i, i+len)) gets
  // align_[i] for k == 0 (replacement) and the alignment of the previous byte (insertion) after,
  // which for a whole char is align_[i + len - 1]; both are the char's alignment.
  std::string out;
  std::vector<Align> al;
  out.reserve(normalized_.size() * 2);
  al.reserve(normalized_.size() * 2);
  const std::string_view s(normalized_);
  for (size_t i = 0; i < s.size();) {
    int len = unicode::Utf8Len(static_cast<unsigned char>(s[i]));
    if (i + len > s.size()) len = static_cast<int>(s.size() - i);
    for (int k = 0; k < len; ++k) {
      const uint32_t cp = unicode::ByteToChar(static_cast<uint8_t>(s[i + k]));
      char buf[4];
      const int n = unicode::Encode(cp, buf);
      out.append(buf, n);
      al.insert(al.end(), n, k == 0 ? align_[i] : align_[i + len - 1]);
    }
    i += len;
  }
  normalized_ = std::move(out);
  align_ = std::move(al);
}

void NormalizedString::ReplaceAsciiChar(char c, std::string_view with) {
  if (normalized_.find(c) == std::string::npos) return;
  std::string out;
  std::vector<Align> al;
  out.reserve(normalized_.size() + 8);
  al.reserve(normalized_.size() + 8);
  for (size_t i = 0; i < normalized_.size(); ++i) {
    if (normalized_[i] == c) {
      out.append(with);
      al.insert(al.end(), with.size(), align_[i]);
    } else {
      out.push_back(normalized_[i]);
      al.push_back(align_[i]);
    }
  }
  normalized_ = std::move(out);
  align_ = std::move(al);
}

void NormalizedString::Strip(bool left, bool right) {
  size_t b = 0, e = normalized_.size();
  if (left) {
    while (b < e) {
      int len;
      uint32_t cp = unicode::Decode(normalized_, b, &len);
      if (!unicode::IsWhitespace(cp)) break;
      b += len;
    }
  }
  if (right) {
    while (e > b) {
      size_t p = e - 1;
      while (p > b && (static_cast<unsigned char>(normalized_[p]) & 0xC0) == 0x80) --p;
      int len;
      uint32_t cp = unicode::Decode(normalized_, p, &len);
      if (!unicode::IsWhitespace(cp)) break;
      e = p;
    }
  }
  if (b == 0 && e == normalized_.size()) return;
  normalized_ = normalized_.substr(b, e - b);
  align_ = std::vector<Align>(align_.begin() + b, align_.begin() + e);
}

}  // namespace winnow::tok
