#include "pipelines/sentence_splitter.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

namespace winnow::pipelines {

namespace {

// Lowercase, without the final period. Words with an inner period (e.g, u.s) are handled by rule.
constexpr std::array<std::string_view, 30> kAbbreviations = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "fig", "no", "vol", "pp", "al",
    "approx", "inc", "ltd", "co", "corp", "gen", "col", "lt", "sgt", "capt", "rev", "cf", "dept", "est", "ca"};

struct CodePoints {
  std::vector<char32_t> cp;
  std::vector<size_t> byte;  // byte offset of each code point, plus the text size at the end
};

CodePoints Decode(std::string_view s) {
  CodePoints out;
  out.cp.reserve(s.size());
  out.byte.reserve(s.size() + 1);
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
    if (i + len > s.size()) len = 1;
    char32_t c = len == 1 ? (b < 0x80 ? b : 0xFFFD) : (b & (0x7F >> len));
    for (size_t k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.cp.push_back(c);
    out.byte.push_back(i);
    i += len;
  }
  out.byte.push_back(s.size());
  return out;
}

bool IsSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x2028 || c == 0x2029 || c == 0x3000;
}
bool IsLineBreak(char32_t c) { return c == '\n' || c == 0x2028 || c == 0x2029; }
bool IsEnTerminator(char32_t c) { return c == '.' || c == '!' || c == '?'; }
bool IsJaTerminator(char32_t c) { return c == 0x3002 || c == 0xFF01 || c == 0xFF1F || c == 0xFF0E; }
bool IsCloser(char32_t c) {
  switch (c) {
    case '"': case '\'': case ')': case ']': case '}':
    case 0x201D: case 0x2019: case 0x300D: case 0x300F: case 0xFF09: case 0x3011:
      return true;
    default:
      return false;
  }
}
bool IsKana(char32_t c) { return (c >= 0x3041 && c <= 0x30FF && c != 0x30FB) || (c >= 0xFF66 && c <= 0xFF9F); }
bool IsLetter(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7) ||
         (c >= 0x370 && c <= 0x4FF) || IsKana(c) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0xFF21 && c <= 0xFF3A) ||
         (c >= 0xFF41 && c <= 0xFF5A);
}
bool IsAsciiAlnum(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Whether the single '.' at `dot` follows a word that makes it a non-boundary.
bool PeriodIsNotBoundary(const std::vector<char32_t>& cp, size_t dot) {
  size_t b = dot;
  while (b > 0 && !IsSpace(cp[b - 1])) --b;
  size_t word_start = b;
  while (word_start < dot && !IsAsciiAlnum(cp[word_start])) ++word_start;
  if (word_start == dot) return false;
  std::string w;
  bool inner_period = false, digits = true;
  for (size_t k = word_start; k < dot; ++k) {
    char32_t c = cp[k];
    if (c == '.') inner_period = true;
    if (c < '0' || c > '9') digits = false;
    w.push_back(c < 0x80 ? static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c) : '\x01');
  }
  if (inner_period) return true;
  if (dot - word_start == 1 && ((w[0] >= 'a' && w[0] <= 'z'))) return true;  // an initial
  if (std::find(kAbbreviations.begin(), kAbbreviations.end(), w) != kAbbreviations.end()) return true;
  if (digits) {  // "1. First item": a number that opens its line
    size_t k = b;
    while (k > 0 && IsSpace(cp[k - 1]) && !IsLineBreak(cp[k - 1])) --k;
    if (k == 0 || IsLineBreak(cp[k - 1])) return true;
  }
  return false;
}

}  // namespace

Language DetectLanguage(std::string_view text) {
  const CodePoints d = Decode(text);
  size_t kana = 0, letters = 0;
  for (char32_t c : d.cp) {
    if (IsKana(c)) ++kana;
    if (IsLetter(c)) ++letters;
  }
  return kana * 10 > letters ? Language::kJapanese : Language::kEnglish;
}

std::vector<std::pair<size_t, size_t>> SplitSentences(std::string_view text, Language language) {
  std::vector<std::pair<size_t, size_t>> out;
  if (text.empty()) return out;
  if (language == Language::kAuto) language = DetectLanguage(text);
  const bool ja = language == Language::kJapanese;
  const CodePoints d = Decode(text);
  const auto& cp = d.cp;
  const size_t n = cp.size();
  size_t start = 0;  // in code points
  auto cut = [&](size_t end) {
    bool content = false;
    for (size_t k = start; k < end && !content; ++k) content = !IsSpace(cp[k]);
    if (!content) return;  // whitespace joins the next sentence
    out.emplace_back(d.byte[start], d.byte[end]);
    start = end;
  };
  auto skip_space = [&](size_t j) {
    while (j < n && IsSpace(cp[j])) ++j;
    return j;
  };
  size_t i = 0;
  while (i < n) {
    const char32_t c = cp[i];
    if (IsLineBreak(c)) {
      const size_t end = skip_space(i + 1);
      cut(end);
      i = end;
      continue;
    }
    const bool jt = ja && IsJaTerminator(c);
    if (!jt && !IsEnTerminator(c)) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    bool any_ja = jt;
    while (j < n && (IsEnTerminator(cp[j]) || (ja && IsJaTerminator(cp[j])))) {
      any_ja = any_ja || (ja && IsJaTerminator(cp[j]));
      ++j;
    }
    const size_t run_end = j;
    while (j < n && IsCloser(cp[j])) ++j;
    bool boundary;
    if (any_ja) {
      boundary = true;
    } else if (j < n && !IsSpace(cp[j])) {
      boundary = false;
    } else {
      const size_t next = skip_space(j);
      boundary = !(next < n && cp[next] >= 'a' && cp[next] <= 'z');
      if (boundary && c == '.' && run_end == i + 1) boundary = !PeriodIsNotBoundary(cp, i);
    }
    if (boundary) {
      const size_t end = skip_space(j);
      cut(end);
      i = end;
    } else {
      i = j;
    }
  }
  if (start < n) {
    bool content = false;
    for (size_t k = start; k < n && !content; ++k) content = !IsSpace(cp[k]);
    if (content || out.empty()) out.emplace_back(d.byte[start], text.size());
    else out.back().second = text.size();
  }
  return out;
}

}  // namespace winnow::pipelines
