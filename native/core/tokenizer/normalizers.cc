#include "tokenizer/normalizers.h"

#include <vector>

#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace winnow::tok {
namespace {

using json_util::json;

bool IsAsciiOnly(const std::string& s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool chinese, bool strip_accents, bool lowercase)
      : clean_text_(clean_text), chinese_(chinese), strip_accents_(strip_accents), lowercase_(lowercase) {}

  bool KeepsSpaceCuts() const override { return true; }
  Status Normalize(NormalizedString* s) const override {
    if (IsAsciiOnly(s->get())) {
      // ASCII: clean_text drops controls and maps \t \n \r to ' '; no CJK, no accents.
      std::string& str = *s->mutable_normalized();
      std::vector<Align>& al = *s->mutable_alignments();
      size_t w = 0;
      for (size_t r = 0; r < str.size(); ++r) {
        char c = str[r];
        if (clean_text_) {
          uint8_t f = unicode::kAsciiFlags[static_cast<unsigned char>(c)];
          if (f & unicode::kAsciiControl) continue;
          if (c == '\t' || c == '\n' || c == '\r') c = ' ';
        }
        if (lowercase_ && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        str[w] = c;
        al[w] = al[r];
        ++w;
      }
      str.resize(w);
      al.resize(w);
      return Status::Ok();
    }
    if (clean_text_ || chinese_) {
      s->MapChars([this](uint32_t cp, auto emit) {
        if (clean_text_) {
          if (cp == 0 || cp == 0xFFFD || unicode::IsBertControl(cp)) return;
          if (unicode::IsBertWhitespace(cp)) cp = ' ';
        }
        if (chinese_ && unicode::IsChineseChar(cp)) {
          emit(' ');
          emit(cp);
          emit(' ');
          return;
        }
        emit(cp);
      });
    }
    if (strip_accents_) {
      s->Nfd();
      s->MapChars([](uint32_t cp, auto emit) {
        if (!unicode::IsMarkNonspacing(cp)) emit(cp);
      });
    }
    if (lowercase_) s->Lowercase();
    return Status::Ok();
  }

 private:
  bool clean_text_, chinese_, strip_accents_, lowercase_;
};

class FnNormalizer final : public Normalizer {
 public:
  enum Kind { kLowercase, kStripAccents, kNfc, kNfd, kNfkc, kNfkd };
  explicit FnNormalizer(Kind k) : kind_(k) {}
  bool KeepsSpaceCuts() const override { return true; }  // per char; an ASCII space never composes
  Status Normalize(NormalizedString* s) const override {
    switch (kind_) {
      case kLowercase: s->Lowercase(); break;
      case kStripAccents:
        s->MapChars([](uint32_t cp, auto emit) {
          if (!unicode::IsCombiningMark(cp)) emit(cp);
        });
        break;
      case kNfc: s->Nfc(); break;
      case kNfd: s->Nfd(); break;
      case kNfkc: s->Nfkc(); break;
      case kNfkd: s->Nfkd(); break;
    }
    return Status::Ok();
  }

 private:
  Kind kind_;
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool l, bool r) : left_(l), right_(r) {}
  bool KeepsSpaceCuts() const override { return true; }  // a prefix cut there ends in a letter or digit
  Status Normalize(NormalizedString* s) const override {
    s->Strip(left_, right_);
    return Status::Ok();
  }

 private:
  bool left_, right_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
  bool KeepsSpaceCuts() const override { return true; }
  Status Normalize(NormalizedString* s) const override {
    s->Prepend(prepend_);
    return Status::Ok();
  }

 private:
  std::string prepend_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(std::unique_ptr<Regex> re, std::string content) : re_(std::move(re)), content_(std::move(content)) {}
  Status Normalize(NormalizedString* s) const override {
    std::vector<Match> matches;
    WINNOW_RETURN_IF_ERROR(re_->FindMatches(s->get(), &matches));
    const std::string& in = s->get();
    const std::vector<Align>& al = s->alignments();
    std::string out;
    std::vector<Align> out_al;
    out.reserve(in.size());
    out_al.reserve(in.size());
    bool changed = false;
    for (const Match& m : matches) {
      if (!m.is_match) {
        out.append(in, m.start, m.end - m.start);
        out_al.insert(out_al.end(), al.begin() + m.start, al.begin() + m.end);
        continue;
      }
      changed = true;
      // Every char of `content` is an insertion aligned with the last byte of the match.
      Align a = m.end < 1 ? Align{s->original_start(), s->original_start()} : al[m.end - 1];
      out += content_;
      out_al.insert(out_al.end(), content_.size(), a);
    }
    if (changed) s->Assign(std::move(out), std::move(out_al));
    return Status::Ok();
  }

 private:
  std::unique_ptr<Regex> re_;
  std::string content_;
};

// SentencePiece's precompiled charsmap: a darts-clone double-array trie over UTF-8 bytes whose
// values are offsets of NUL-terminated replacement strings. Applied as HF's spm_precompiled does:
// grapheme by grapheme (the whole grapheme when shorter than 6 bytes, with the replacement of the
// *shortest* trie key that is a prefix of it), falling back to char by char.
class PrecompiledNormalizer final : public Normalizer {
 public:
  Status Load(const std::string& blob, const std::string& path) {
    if (blob.empty()) return Status::Ok();  // no rules: identity
    if (blob.size() < 4) return InvalidAt(path, "charsmap too short");
    const auto* b = reinterpret_cast<const unsigned char*>(blob.data());
    const uint32_t trie_size = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
    if (trie_size % 4 != 0 || 4 + static_cast<size_t>(trie_size) > blob.size())
      return InvalidAt(path, "charsmap trie size " + std::to_string(trie_size) + " does not fit the data");
    trie_.resize(trie_size / 4);
    for (size_t i = 0; i < trie_.size(); ++i) {
      const unsigned char* q = b + 4 + 4 * i;
      trie_[i] = q[0] | (q[1] << 8) | (q[2] << 16) | (static_cast<uint32_t>(q[3]) << 24);
    }
    normalized_ = blob.substr(4 + trie_size);
    // Graphemes end before an ASCII space, so the map is local there; it must also leave ASCII
    // letters, digits and the space alone for cuts at those spaces to be safe.
    static constexpr std::string_view kAscii = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ";
    NormalizedString probe(kAscii, 0);
    keeps_space_cuts_ = Normalize(&probe).ok() && probe.get() == kAscii;
    return Status::Ok();
  }

  bool KeepsSpaceCuts() const override { return trie_.empty() || keeps_space_cuts_; }

  Status Normalize(NormalizedString* s) const override {
    if (trie_.empty() || s->empty()) return Status::Ok();
    const std::string& str = s->get();
    std::vector<CharChange> tr;
    tr.reserve(str.size());
    bool modified = false;
    auto flush = [&](size_t gb, size_t ge) {
      std::string_view g(str.data() + gb, ge - gb);
      std::string_view norm;
      if (g.size() < 6 && Transform(g, &norm)) {
        modified = true;
        Replace(&tr, g, norm);
        return;
      }
      for (size_t i = gb; i < ge;) {
        int len;
        const uint32_t cp = unicode::Decode(str, i, &len);
        std::string_view part(str.data() + i, len);
        if (Transform(part, &norm)) {
          modified = true;
          Replace(&tr, part, norm);
        } else {
          tr.push_back({cp, 0});
        }
        i += len;
      }
    };
    // Extended grapheme clusters (UAX #29) with the reference's tables.
    int32_t state = 0;
    size_t gstart = 0;
    uint32_t prev = 0;
    for (size_t i = 0; i < str.size();) {
      int len;
      const uint32_t cp = unicode::Decode(str, i, &len);
      if (i > 0 && unicode::GraphemeBreak(prev, cp, &state)) {
        flush(gstart, i);
        gstart = i;
      }
      prev = cp;
      i += len;
    }
    flush(gstart, str.size());
    if (modified) s->Transform(tr, 0);
    return Status::Ok();
  }

 private:
  static size_t Offset(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }

  // Replacement of the shortest key that prefixes `chunk`.
  bool Transform(std::string_view chunk, std::string_view* out) const {
    size_t pos = Offset(trie_[0]);
    for (unsigned char c : chunk) {
      if (c == 0) return false;
      pos ^= c;
      if (pos >= trie_.size()) return false;
      const uint32_t unit = trie_[pos];
      if ((unit & (0x80000000u | 0xFFu)) != c) return false;
      pos ^= Offset(unit);
      if ((unit >> 8) & 1) {
        if (pos >= trie_.size()) return false;
        const size_t v = trie_[pos] & 0x7FFFFFFFu;
        if (v > normalized_.size()) return false;
        size_t e = normalized_.find('\0', v);
        if (e == std::string::npos) e = normalized_.size();
        *out = std::string_view(normalized_).substr(v, e - v);
        return true;
      }
    }
    return false;
  }

  static void Replace(std::vector<CharChange>* tr, std::string_view old_part, std::string_view new_part) {
    long old_count = 0, new_count = 0;
    for (size_t i = 0; i < old_part.size();) {
      int len;
      unicode::Decode(old_part, i, &len);
      i += len;
      ++old_count;
    }
    for (size_t i = 0; i < new_part.size();) {
      int len;
      tr->push_back({unicode::Decode(new_part, i, &len), 0});
      i += len;
      ++new_count;
    }
    const long diff = new_count - old_count;
    if (diff > 0) {
      for (long k = 0; k < diff; ++k) (*tr)[tr->size() - 1 - k].change = 1;
    } else if (diff < 0 && !tr->empty()) {
      tr->back().change += static_cast<int32_t>(diff);
    }
  }

  std::vector<uint32_t> trie_;
  std::string normalized_;
  bool keeps_space_cuts_ = false;
};

class ByteLevelNormalizer final : public Normalizer {
 public:
  Status Normalize(NormalizedString* s) const override {
    s->ByteLevel();
    return Status::Ok();
  }
};

// Marian's NMT normalizer: drops some controls, maps some separators to ' '.
class NmtNormalizer final : public Normalizer {
 public:
  bool KeepsSpaceCuts() const override { return true; }
  Status Normalize(NormalizedString* s) const override {
    s->MapChars([](uint32_t c, auto emit) {
      if ((c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F || c == 0x8F || c == 0x9F) return;
      if (c == 0x9 || c == 0xA || c == 0xC || c == 0xD || c == 0x1680 || (c >= 0x200B && c <= 0x200F) || c == 0x2028 ||
          c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD)
        c = ' ';
      emit(c);
    });
    return Status::Ok();
  }
};

bool Base64Decode(const std::string& in, std::string* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  out->clear();
  out->reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    if (c == '\n' || c == '\r') continue;
    const int v = val(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> n) : seq_(std::move(n)) {}
  bool KeepsSpaceCuts() const override {
    for (const auto& n : seq_)
      if (!n->KeepsSpaceCuts()) return false;
    return true;
  }
  Status Normalize(NormalizedString* s) const override {
    for (const auto& n : seq_) WINNOW_RETURN_IF_ERROR(n->Normalize(s));
    return Status::Ok();
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> seq_;
};

}  // namespace

// Reads a `{"String": ...}` / `{"Regex": ...}` pattern object into a compiled regex.
StatusOr<std::unique_ptr<Regex>> LoadPattern(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) return InvalidAt(path, "expected {\"String\": ...} or {\"Regex\": ...}");
  if (auto it = j.find("String"); it != j.end()) {
    if (!it->is_string()) return InvalidAt(path + ".String", "expected a string");
    return Regex::Compile(Regex::Escape(it->get<std::string>()), path + ".String");
  }
  if (auto it = j.find("Regex"); it != j.end()) {
    if (!it->is_string()) return InvalidAt(path + ".Regex", "expected a string");
    return Regex::Compile(it->get<std::string>(), path + ".Regex");
  }
  return InvalidAt(path, "expected {\"String\": ...} or {\"Regex\": ...}");
}

StatusOr<std::unique_ptr<Normalizer>> LoadNormalizer(const nlohmann::json& j, const std::string& path, int depth) {
  using namespace json_util;
  std::string type;
  WINNOW_RETURN_IF_ERROR(GetType(j, path, &type));
  if (type == "BertNormalizer") {
    bool clean = true, chinese = true, lower = true;
    WINNOW_RETURN_IF_ERROR(GetBool(j, "clean_text", path, &clean));
    WINNOW_RETURN_IF_ERROR(GetBool(j, "handle_chinese_chars", path, &chinese));
    WINNOW_RETURN_IF_ERROR(GetBool(j, "lowercase", path, &lower));
    bool strip = lower;  // strip_accents: null follows lowercase
    WINNOW_RETURN_IF_ERROR(GetBool(j, "strip_accents", path, &strip));
    return std::unique_ptr<Normalizer>(new BertNormalizer(clean, chinese, strip, lower));
  }
  if (type == "Lowercase") return std::unique_ptr<Normalizer>(new FnNormalizer(FnNormalizer::kLowercase));
  if (type == "StripAccents") return std::unique_ptr<Normalizer>(new FnNormalizer(FnNormalizer::kStripAccents));
  if (type == "NFC") return std::unique_ptr<Normalizer>(new FnNormalizer(FnNormalizer::kNfc));
  if (type == "NFD") return std::unique_ptr<Normalizer>(new FnNormalizer(FnNormalizer::kNfd));
  if (type == "NFKC") return std::unique_ptr<Normalizer>(new FnNormalizer(FnNormalizer::kNfkc));
  if (type == "NFKD") return std::unique_ptr<Normalizer>(new FnNormalizer(FnNormalizer::kNfkd));
  if (type == "Strip") {
    bool l = true, r = true;
    WINNOW_RETURN_IF_ERROR(GetBool(j, "strip_left", path, &l));
    WINNOW_RETURN_IF_ERROR(GetBool(j, "strip_right", path, &r));
    return std::unique_ptr<Normalizer>(new StripNormalizer(l, r));
  }
  if (type == "Prepend") {
    std::string p;
    WINNOW_RETURN_IF_ERROR(GetString(j, "prepend", path, &p, /*required=*/true));
    return std::unique_ptr<Normalizer>(new PrependNormalizer(std::move(p)));
  }
  if (type == "Replace") {
    const json* pat = Find(j, "pattern");
    if (!pat) return InvalidAt(Key(path, "pattern"), "missing required pattern");
    WINNOW_ASSIGN_OR_RETURN(std::unique_ptr<Regex> re, LoadPattern(*pat, Key(path, "pattern")));
    std::string content;
    WINNOW_RETURN_IF_ERROR(GetString(j, "content", path, &content, /*required=*/true));
    return std::unique_ptr<Normalizer>(new ReplaceNormalizer(std::move(re), std::move(content)));
  }
  if (type == "Sequence") {
    WINNOW_RETURN_IF_ERROR(CheckSequenceDepth(depth, path));
    const json* arr = Find(j, "normalizers");
    const std::string apath = Key(path, "normalizers");
    if (!arr || !arr->is_array()) return InvalidAt(apath, "expected an array");
    std::vector<std::unique_ptr<Normalizer>> seq;
    for (size_t i = 0; i < arr->size(); ++i) {
      WINNOW_ASSIGN_OR_RETURN(std::unique_ptr<Normalizer> n, LoadNormalizer((*arr)[i], Index(apath, i), depth + 1));
      seq.push_back(std::move(n));
    }
    return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(seq)));
  }
  if (type == "Precompiled") {
    std::string b64, blob;
    WINNOW_RETURN_IF_ERROR(GetString(j, "precompiled_charsmap", path, &b64));
    if (!Base64Decode(b64, &blob)) return InvalidAt(Key(path, "precompiled_charsmap"), "not valid base64");
    auto n = std::make_unique<PrecompiledNormalizer>();
    WINNOW_RETURN_IF_ERROR(n->Load(blob, Key(path, "precompiled_charsmap")));
    return std::unique_ptr<Normalizer>(std::move(n));
  }
  if (type == "ByteLevel") return std::unique_ptr<Normalizer>(new ByteLevelNormalizer());
  if (type == "Nmt") return std::unique_ptr<Normalizer>(new NmtNormalizer());
  if (type.empty()) return InvalidAt(Key(path, "type"), "missing normalizer type");
  return Unsupported(path, type);
}

}  // namespace winnow::tok
