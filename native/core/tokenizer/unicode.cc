#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <iterator>

namespace winnow::tok::unicode {
namespace {
#include "tokenizer/unicode_tables.inc"
#include "tokenizer/grapheme_tables.inc"

template <size_t N>
bool InRanges(const uint32_t (&table)[N][2], uint32_t cp) {
  size_t lo = 0, hi = N;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cp > table[mid][1]) lo = mid + 1;
    else if (cp < table[mid][0]) hi = mid;
    else return true;
  }
  return false;
}

constexpr uint8_t Flags(int c) {
  uint8_t f = 0;
  if (c == ' ' || (c >= 9 && c <= 13)) f |= kAsciiWhitespace;
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) f |= kAsciiPunct;
  if ((c < 32 || c == 127) && c != 9 && c != 10 && c != 13) f |= kAsciiControl;
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) f |= kAsciiAlnum;
  if (c >= '0' && c <= '9') f |= kAsciiDigit;
  return f;
}
}  // namespace

#define F8(b) Flags(b), Flags(b + 1), Flags(b + 2), Flags(b + 3), Flags(b + 4), Flags(b + 5), Flags(b + 6), Flags(b + 7)
const uint8_t kAsciiFlags[128] = {F8(0),  F8(8),  F8(16), F8(24), F8(32), F8(40), F8(48),  F8(56),
                                  F8(64), F8(72), F8(80), F8(88), F8(96), F8(104), F8(112), F8(120)};
#undef F8

bool IsWhitespace(uint32_t cp) {
  if (cp < 128) return kAsciiFlags[cp] & kAsciiWhitespace;
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool IsPunctuation(uint32_t cp) {
  if (cp < 128) return kAsciiFlags[cp] & kAsciiPunct ? InRanges(kPunctuation, cp) : false;
  return InRanges(kPunctuation, cp);
}
bool IsBertPunctuation(uint32_t cp) {
  if (cp < 128) return kAsciiFlags[cp] & kAsciiPunct;
  return InRanges(kPunctuation, cp);
}
bool IsBertControl(uint32_t cp) {
  if (cp < 128) return kAsciiFlags[cp] & kAsciiControl;
  return InRanges(kBertControl, cp);
}
bool IsBertWhitespace(uint32_t cp) { return cp == '\t' || cp == '\n' || cp == '\r' || IsWhitespace(cp); }

bool IsChineseChar(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool IsMarkNonspacing(uint32_t cp) { return cp >= 0x300 && InRanges(kMarkNonspacing, cp); }
bool IsCombiningMark(uint32_t cp) { return cp >= 0x300 && InRanges(kCombiningMark, cp); }
bool IsNumeric(uint32_t cp) {
  if (cp < 128) return kAsciiFlags[cp] & kAsciiDigit;
  return InRanges(kNumeric, cp);
}
bool IsWordChar(uint32_t cp) {
  if (cp < 128) return (kAsciiFlags[cp] & kAsciiAlnum) || cp == '_';
  return InRanges(kWordChar, cp);
}
bool IsAlphabetic(uint32_t cp) {
  if (cp < 128) return (kAsciiFlags[cp] & kAsciiAlnum) && !(kAsciiFlags[cp] & kAsciiDigit);
  // Word chars minus decimal digits, marks and connector punctuation approximates Alphabetic.
  return IsWordChar(cp) && !IsNumeric(cp) && !IsCombiningMark(cp) && cp != 0x200C && cp != 0x200D &&
         !(cp == 0x203F || cp == 0x2040 || cp == 0x2054 || cp == 0xFE33 || cp == 0xFE34 || (cp >= 0xFE4D && cp <= 0xFE4F) || cp == 0xFF3F);
}
bool IsAlphanumeric(uint32_t cp) { return IsAlphabetic(cp) || IsNumeric(cp); }

int CombiningClass(uint32_t cp) {
  if (cp < 0x300) return 0;
  const int ccc = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
  if (ccc != 0 && InRanges(kCccZeroInReference, cp)) return 0;
  return ccc;
}

bool NoDecompositionInReference(uint32_t cp, bool compat) {
  if (compat) return cp >= kNoCompatDecompositionInReference[0][0] && InRanges(kNoCompatDecompositionInReference, cp);
  return cp >= kNoCanonicalDecompositionInReference[0][0] && InRanges(kNoCanonicalDecompositionInReference, cp);
}

int ToLower(uint32_t cp, uint32_t out[3]) {
  if (cp < 128) {
    out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return 1;
  }
  if (cp == 0x130) {
    out[0] = 'i';
    out[1] = 0x307;
    return 2;
  }
  const auto* b = std::begin(kLower);
  const auto* e = std::end(kLower);
  const auto* it = std::lower_bound(b, e, cp, [](const uint32_t (&row)[2], uint32_t v) { return row[0] < v; });
  out[0] = (it != e && (*it)[0] == cp) ? (*it)[1] : cp;
  return 1;
}

bool IsGraphemeExtend(uint32_t cp) { return cp >= 0x300 && InRanges(kGraphemeExtend, cp); }

bool GraphemeBreak(uint32_t prev, uint32_t cur, int32_t* state) {
  const bool utf8proc_break = utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                                               static_cast<utf8proc_int32_t>(cur), state);
  const int prev_class = utf8proc_get_property(static_cast<utf8proc_int32_t>(prev))->boundclass;
  if (prev_class == UTF8PROC_BOUNDCLASS_CR || prev_class == UTF8PROC_BOUNDCLASS_LF ||
      prev_class == UTF8PROC_BOUNDCLASS_CONTROL)
    return utf8proc_break;
  if (IsGraphemeExtend(cur)) return false;
  const int cur_class = utf8proc_get_property(static_cast<utf8proc_int32_t>(cur))->boundclass;
  if (cur_class == UTF8PROC_BOUNDCLASS_EXTEND || cur_class == UTF8PROC_BOUNDCLASS_SPACINGMARK ||
      cur_class == UTF8PROC_BOUNDCLASS_ZWJ)
    return true;  // an extender for utf8proc's (older or newer) tables, not for the reference's
  return utf8proc_break;
}

}  // namespace winnow::tok::unicode
