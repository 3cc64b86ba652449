// Unicode helpers with the exact semantics the Rust `tokenizers` crate uses (char::is_whitespace,
// unicode_categories' is_punctuation / is_other, BERT's CJK ranges). ASCII goes through tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace winnow::tok::unicode {

// Byte length of the UTF-8 sequence starting with `lead` (1 for stray continuation bytes).
inline int Utf8Len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return lead < 0xC0 ? 1 : 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// Decodes the code point at s[i] (valid UTF-8 assumed; never reads past the end). Sets *len.
inline uint32_t Decode(std::string_view s, size_t i, int* len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const size_t left = s.size() - i;
  unsigned char c = p[0];
  if (c < 0x80) { *len = 1; return c; }
  int n = Utf8Len(c);
  if (static_cast<size_t>(n) > left || n == 1) { *len = 1; return 0xFFFD; }
  *len = n;
  if (n == 2) return ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  if (n == 3) return ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  return ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
}

// Writes the UTF-8 encoding of cp into out (4 bytes room); returns its length.
inline int Encode(uint32_t cp, char* out) {
  if (cp < 0x80) { out[0] = static_cast<char>(cp); return 1; }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}
inline void Append(uint32_t cp, std::string* out) {
  char buf[4];
  out->append(buf, Encode(cp, buf));
}
inline int EncodedLen(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

// Bit flags of the ASCII table.
enum : uint8_t {
  kAsciiWhitespace = 1,   // Rust char::is_whitespace: \t \n \v \f \r and space
  kAsciiPunct = 2,        // char::is_ascii_punctuation
  kAsciiControl = 4,      // HF BERT is_control (Cc minus \t \n \r)
  kAsciiAlnum = 8,        // char::is_alphanumeric
  kAsciiDigit = 16,
};
extern const uint8_t kAsciiFlags[128];

bool IsWhitespace(uint32_t cp);       // Rust char::is_whitespace (White_Space property)
bool IsPunctuation(uint32_t cp);      // unicode_categories is_punctuation (P*) as used by HF
bool IsBertPunctuation(uint32_t cp);  // ASCII punctuation or P*
bool IsBertControl(uint32_t cp);      // HF bert is_control: \t\n\r false, else C* (Cc Cf Cn Co Cs)
bool IsBertWhitespace(uint32_t cp);   // \t \n \r or IsWhitespace
bool IsChineseChar(uint32_t cp);      // BERT's CJK ideograph blocks
bool IsMarkNonspacing(uint32_t cp);   // Mn
bool IsCombiningMark(uint32_t cp);    // Mn | Mc | Me
bool IsNumeric(uint32_t cp);          // Rust char::is_numeric: Nd | Nl | No
bool IsAlphabetic(uint32_t cp);       // Rust char::is_alphabetic (approximation of Alphabetic)
bool IsAlphanumeric(uint32_t cp);     // is_alphabetic || is_numeric
bool IsWordChar(uint32_t cp);         // regex \w (Oniguruma Unicode): Alphabetic | M | Nd | Pc | ZWJ/ZWNJ

// GPT-2 bytes_to_unicode: the printable char standing for byte `b`.
inline uint32_t ByteToChar(uint8_t b) {
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174)) return b;
  // Remaining bytes are numbered from 256 in increasing byte order.
  uint32_t n;
  if (b <= 32) n = b;                      // 0..32 -> 256..288
  else if (b == 127) n = 33;               // 127 -> 289
  else if (b <= 160) n = 34 + (b - 128);   // 128..160 -> 290..322
  else n = 67;                             // 173 -> 323
  return 256 + n;
}

// Extended grapheme clusters (UAX #29) as the reference's unicode-segmentation tables cut them:
// utf8proc's rules with the reference's Extend | SpacingMark | ZWJ set (probed, see
// grapheme_tables.inc). `state` starts at 0 for each string.
bool IsGraphemeExtend(uint32_t cp);
bool GraphemeBreak(uint32_t prev, uint32_t cur, int32_t* state);

// Canonical combining class as the Rust library's (older) normalization tables know it.
int CombiningClass(uint32_t cp);
// True when the reference (unicode-normalization-alignments, older tables) has no canonical
// (compat = false) / canonical-or-compatibility (compat = true) decomposition for `cp` although
// current Unicode (utf8proc) has one.
bool NoDecompositionInReference(uint32_t cp, bool compat);

// Rust char::to_lowercase: writes up to 3 code points into out, returns the count.
int ToLower(uint32_t cp, uint32_t out[3]);

}  // namespace winnow::tok::unicode
