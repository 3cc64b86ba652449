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

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> n) : seq_(std::move(n)) {}
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

StatusOr<std::unique_ptr<Normalizer>> LoadNormalizer(const nlohmann::json& j, const std::string& path) {
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
    const json* arr = Find(j, "normalizers");
    const std::string apath = Key(path, "normalizers");
    if (!arr || !arr->is_array()) return InvalidAt(apath, "expected an array");
    std::vector<std::unique_ptr<Normalizer>> seq;
    for (size_t i = 0; i < arr->size(); ++i) {
      WINNOW_ASSIGN_OR_RETURN(std::unique_ptr<Normalizer> n, LoadNormalizer((*arr)[i], Index(apath, i)));
      seq.push_back(std::move(n));
    }
    return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(seq)));
  }
  if (type.empty()) return InvalidAt(Key(path, "type"), "missing normalizer type");
  // Precompiled, ByteLevel, Nmt: not implemented yet.
  return Unsupported(path, type);
}

}  // namespace winnow::tok
