#include "tokenizer/pre_tokenizers.h"

#include <cctype>
#include <vector>

#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace winnow::tok {
namespace {

using json_util::json;

// Splits on whitespace (removed) and isolates punctuation in one pass; equals HF's two splits.
class BertPreTokenizer final : public PreTokenizer {
 public:
  SpaceCut AtSpaceCut() const override { return SpaceCut::kSplits; }
  Status PreTokenize(PreTokenizedString* p) const override {
    return p->SplitWith([](const NormalizedString& ns, std::vector<Split>* out) {
      const std::string& s = ns.get();
      size_t start = 0;
      size_t i = 0;
      auto flush = [&](size_t end) {
        if (end > start) out->push_back(Split{ns.Slice(start, end), false, {}});
      };
      while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        int len = 1;
        bool ws, punct;
        if (c < 0x80) {
          const uint8_t f = unicode::kAsciiFlags[c];
          ws = f & unicode::kAsciiWhitespace;
          punct = f & unicode::kAsciiPunct;
        } else {
          uint32_t cp = unicode::Decode(s, i, &len);
          ws = unicode::IsWhitespace(cp);
          punct = !ws && unicode::IsBertPunctuation(cp);
        }
        if (ws) {
          flush(i);
          start = i + len;
        } else if (punct) {
          flush(i);
          out->push_back(Split{ns.Slice(i, i + len), false, {}});
          start = i + len;
        }
        i += len;
      }
      flush(s.size());
      return Status::Ok();
    });
  }
};

// \w+|[^\w\s]+ kept, whitespace removed.
class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  SpaceCut AtSpaceCut() const override { return SpaceCut::kSplits; }
  Status PreTokenize(PreTokenizedString* p) const override {
    return p->SplitWith([](const NormalizedString& ns, std::vector<Split>* out) {
      const std::string& s = ns.get();
      size_t i = 0;
      int cur = 0;  // 0 none, 1 word run, 2 other run
      size_t start = 0;
      while (i < s.size()) {
        int len;
        uint32_t cp = unicode::Decode(s, i, &len);
        int cls = unicode::IsWhitespace(cp) ? 0 : unicode::IsWordChar(cp) ? 1 : 2;
        if (cls != cur) {
          if (cur != 0) out->push_back(Split{ns.Slice(start, i), false, {}});
          cur = cls;
          start = i;
        }
        i += len;
      }
      if (cur != 0) out->push_back(Split{ns.Slice(start, s.size()), false, {}});
      return Status::Ok();
    });
  }
};

template <class Pred>
class CharSplitPreTokenizer final : public PreTokenizer {
 public:
  CharSplitPreTokenizer(Pred pred, SplitBehavior b, SpaceCut cut) : pred_(pred), behavior_(b), cut_(cut) {}
  SpaceCut AtSpaceCut() const override { return cut_; }
  Status PreTokenize(PreTokenizedString* p) const override {
    std::vector<Match> matches;
    return p->SplitWith([&](const NormalizedString& ns, std::vector<Split>* out) {
      FindCharMatches(ns.get(), pred_, &matches);
      SplitByMatches(ns, matches, behavior_, false, out);
      return Status::Ok();
    });
  }

 private:
  Pred pred_;
  SplitBehavior behavior_;
  SpaceCut cut_;
};
// `cut`: kSplits when `p` holds for ' ' and the behavior removes it, else kKeeps: `p` does not hold
// for ' ', so the pieces before a cut at a space depend only on the chars before it.
template <class Pred>
std::unique_ptr<PreTokenizer> MakeCharSplit(Pred p, SplitBehavior b, PreTokenizer::SpaceCut cut) {
  return std::unique_ptr<PreTokenizer>(new CharSplitPreTokenizer<Pred>(p, b, cut));
}

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(std::unique_ptr<Regex> re, SplitBehavior b, bool invert)
      : re_(std::move(re)), behavior_(b), invert_(invert) {}
  Status PreTokenize(PreTokenizedString* p) const override {
    std::vector<Match> matches;
    return p->SplitWith([&](const NormalizedString& ns, std::vector<Split>* out) {
      WINNOW_RETURN_IF_ERROR(re_->FindMatches(ns.get(), &matches));
      SplitByMatches(ns, matches, behavior_, invert_, out);
      return Status::Ok();
    });
  }

 private:
  std::unique_ptr<Regex> re_;
  SplitBehavior behavior_;
  bool invert_;
};

// Oniguruma's \s (White_Space), which the Rust library's GPT-2 regex uses; PCRE2's UCP \s lacks
// U+0085.
#define WINNOW_WS "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WINNOW_WS "\\p{L}\\p{N}]+|[" WINNOW_WS "]+(?![^" WINNOW_WS
    "])|[" WINNOW_WS "]+";
#undef WINNOW_WS

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::unique_ptr<Regex> re)
      : add_prefix_space_(add_prefix_space), re_(std::move(re)) {}
  // The GPT-2 pattern: no alternative that matches a letter or digit matches a space after it, and
  // a space run before a non-space ends one char early, so a match ends right before such a space.
  SpaceCut AtSpaceCut() const override { return re_ ? SpaceCut::kSplits : SpaceCut::kUnknown; }
  Status PreTokenize(PreTokenizedString* p) const override {
    std::vector<Match> matches;
    return p->SplitWith([&](NormalizedString& ns, std::vector<Split>* out) {
      if (add_prefix_space_ && !ns.get().empty() && ns.get()[0] != ' ') ns.Prepend(" ");
      const size_t first = out->size();
      if (re_) {
        WINNOW_RETURN_IF_ERROR(re_->FindMatches(ns.get(), &matches));
        SplitByMatches(ns, matches, SplitBehavior::kIsolated, false, out);
      } else {
        out->push_back(Split{std::move(ns), false, {}});
      }
      for (size_t i = first; i < out->size(); ++i) (*out)[i].normalized.ByteLevel();
      return Status::Ok();
    });
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> re_;
};

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  enum Scheme { kAlways, kFirst, kNever };
  MetaspacePreTokenizer(std::string repl, Scheme scheme, bool split)
      : repl_(std::move(repl)), scheme_(scheme), split_(split) {
    int len = 0;
    repl_cp_ = unicode::Decode(repl_, 0, &len);
  }
  // With split, every ' ' becomes the replacement and starts a piece.
  SpaceCut AtSpaceCut() const override { return split_ ? SpaceCut::kSplits : SpaceCut::kUnknown; }
  Status PreTokenize(PreTokenizedString* p) const override {
    std::vector<Match> matches;
    return p->SplitWith([&](NormalizedString& ns, std::vector<Split>* out) {
      ns.ReplaceAsciiChar(' ', repl_);
      const bool starts = ns.get().compare(0, repl_.size(), repl_) == 0;
      if (scheme_ == kAlways && !starts) ns.Prepend(repl_);
      if (scheme_ == kFirst && !starts && ns.original_start() == 0) ns.Prepend(repl_);
      if (split_) {
        const uint32_t r = repl_cp_;
        FindCharMatches(ns.get(), [r](uint32_t c) { return c == r; }, &matches);
        SplitByMatches(ns, matches, SplitBehavior::kMergedWithNext, false, out);
      } else {
        out->push_back(Split{std::move(ns), false, {}});
      }
      return Status::Ok();
    });
  }

 private:
  std::string repl_;
  uint32_t repl_cp_ = 0;
  Scheme scheme_;
  bool split_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> s) : seq_(std::move(s)) {}
  // Members after the first that splits work piece by piece, so only the members before it matter.
  SpaceCut AtSpaceCut() const override {
    for (const auto& t : seq_) {
      const SpaceCut c = t->AtSpaceCut();
      if (c != SpaceCut::kKeeps) return c;
    }
    return SpaceCut::kKeeps;
  }
  Status PreTokenize(PreTokenizedString* p) const override {
    for (const auto& t : seq_) WINNOW_RETURN_IF_ERROR(t->PreTokenize(p));
    return Status::Ok();
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> seq_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakeSequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> seq) {
  return std::unique_ptr<PreTokenizer>(new SequencePreTokenizer(std::move(seq)));
}

Status ParseSplitBehavior(const nlohmann::json& v, const std::string& path, SplitBehavior* out) {
  if (!v.is_string()) return InvalidAt(path, "expected a split behavior string");
  const std::string s = v.get<std::string>();
  if (s == "Removed") *out = SplitBehavior::kRemoved;
  else if (s == "Isolated") *out = SplitBehavior::kIsolated;
  else if (s == "MergedWithPrevious") *out = SplitBehavior::kMergedWithPrevious;
  else if (s == "MergedWithNext") *out = SplitBehavior::kMergedWithNext;
  else if (s == "Contiguous") *out = SplitBehavior::kContiguous;
  else return InvalidAt(path, "unknown split behavior \"" + s + "\"");
  return Status::Ok();
}

StatusOr<std::unique_ptr<PreTokenizer>> LoadPreTokenizer(const nlohmann::json& j, const std::string& path, int depth) {
  using namespace json_util;
  std::string type;
  WINNOW_RETURN_IF_ERROR(GetType(j, path, &type));
  if (type == "BertPreTokenizer") return std::unique_ptr<PreTokenizer>(new BertPreTokenizer());
  if (type == "Whitespace") return std::unique_ptr<PreTokenizer>(new WhitespacePreTokenizer());
  if (type == "WhitespaceSplit")
    return MakeCharSplit([](uint32_t c) { return unicode::IsWhitespace(c); }, SplitBehavior::kRemoved,
                         PreTokenizer::SpaceCut::kSplits);
  if (type == "Punctuation") {
    SplitBehavior b = SplitBehavior::kIsolated;
    if (const json* v = Find(j, "behavior")) WINNOW_RETURN_IF_ERROR(ParseSplitBehavior(*v, Key(path, "behavior"), &b));
    return MakeCharSplit([](uint32_t c) { return unicode::IsBertPunctuation(c); }, b, PreTokenizer::SpaceCut::kKeeps);
  }
  if (type == "Digits") {
    bool individual = false;
    WINNOW_RETURN_IF_ERROR(GetBool(j, "individual_digits", path, &individual));
    return MakeCharSplit([](uint32_t c) { return unicode::IsNumeric(c); },
                         individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous,
                         PreTokenizer::SpaceCut::kKeeps);
  }
  if (type == "CharDelimiterSplit") {
    std::string d;
    WINNOW_RETURN_IF_ERROR(GetString(j, "delimiter", path, &d, /*required=*/true));
    int len = 0;
    uint32_t cp = d.empty() ? 0 : unicode::Decode(d, 0, &len);
    if (d.empty() || static_cast<size_t>(len) != d.size())
      return InvalidAt(Key(path, "delimiter"), "expected a single character");
    const bool alnum = cp < 0x80 && std::isalnum(static_cast<int>(cp));
    return MakeCharSplit([cp](uint32_t c) { return c == cp; }, SplitBehavior::kRemoved,
                         cp == ' ' ? PreTokenizer::SpaceCut::kSplits
                         : alnum   ? PreTokenizer::SpaceCut::kUnknown
                                   : PreTokenizer::SpaceCut::kKeeps);
  }
  if (type == "Split") {
    const json* pat = Find(j, "pattern");
    if (!pat) return InvalidAt(Key(path, "pattern"), "missing required pattern");
    WINNOW_ASSIGN_OR_RETURN(std::unique_ptr<Regex> re, LoadPattern(*pat, Key(path, "pattern")));
    SplitBehavior b;
    const json* bv = Find(j, "behavior");
    if (!bv) return InvalidAt(Key(path, "behavior"), "missing required split behavior");
    WINNOW_RETURN_IF_ERROR(ParseSplitBehavior(*bv, Key(path, "behavior"), &b));
    bool invert = false;
    WINNOW_RETURN_IF_ERROR(GetBool(j, "invert", path, &invert));
    return std::unique_ptr<PreTokenizer>(new SplitPreTokenizer(std::move(re), b, invert));
  }
  if (type == "Sequence") {
    WINNOW_RETURN_IF_ERROR(CheckSequenceDepth(depth, path));
    const json* arr = Find(j, "pretokenizers");
    const std::string apath = Key(path, "pretokenizers");
    if (!arr || !arr->is_array()) return InvalidAt(apath, "expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> seq;
    for (size_t i = 0; i < arr->size(); ++i) {
      WINNOW_ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> t, LoadPreTokenizer((*arr)[i], Index(apath, i), depth + 1));
      seq.push_back(std::move(t));
    }
    return std::unique_ptr<PreTokenizer>(new SequencePreTokenizer(std::move(seq)));
  }
  if (type == "ByteLevel") {
    bool add_prefix_space = true, use_regex = true, trim_offsets = true;
    WINNOW_RETURN_IF_ERROR(GetBool(j, "add_prefix_space", path, &add_prefix_space));
    WINNOW_RETURN_IF_ERROR(GetBool(j, "use_regex", path, &use_regex));
    WINNOW_RETURN_IF_ERROR(GetBool(j, "trim_offsets", path, &trim_offsets));  // post-processing only
    std::unique_ptr<Regex> re;
    if (use_regex) {
      WINNOW_ASSIGN_OR_RETURN(re, Regex::Compile(kGpt2Pattern, path));
    }
    return std::unique_ptr<PreTokenizer>(new ByteLevelPreTokenizer(add_prefix_space, std::move(re)));
  }
  if (type == "Metaspace") {
    std::string repl = "\xE2\x96\x81";
    WINNOW_RETURN_IF_ERROR(GetString(j, "replacement", path, &repl));
    int len = 0;
    if (repl.empty() || (unicode::Decode(repl, 0, &len), static_cast<size_t>(len) != repl.size()))
      return InvalidAt(Key(path, "replacement"), "expected a single character");
    bool split = true;
    WINNOW_RETURN_IF_ERROR(GetBool(j, "split", path, &split));
    std::string scheme;
    WINNOW_RETURN_IF_ERROR(GetString(j, "prepend_scheme", path, &scheme));
    MetaspacePreTokenizer::Scheme sc = MetaspacePreTokenizer::kAlways;
    if (scheme.empty()) {
      bool add_prefix_space = true;
      WINNOW_RETURN_IF_ERROR(GetBool(j, "add_prefix_space", path, &add_prefix_space));
      sc = add_prefix_space ? MetaspacePreTokenizer::kAlways : MetaspacePreTokenizer::kNever;
    } else if (scheme == "always") {
      sc = MetaspacePreTokenizer::kAlways;
    } else if (scheme == "first") {
      sc = MetaspacePreTokenizer::kFirst;
    } else if (scheme == "never") {
      sc = MetaspacePreTokenizer::kNever;
    } else {
      return InvalidAt(Key(path, "prepend_scheme"), "expected \"always\", \"first\" or \"never\", got \"" + scheme + "\"");
    }
    return std::unique_ptr<PreTokenizer>(new MetaspacePreTokenizer(std::move(repl), sc, split));
  }
  if (type.empty()) return InvalidAt(Key(path, "type"), "missing pre-tokenizer type");
  // UnicodeScripts: not implemented yet.
  return Unsupported(path, type);
}

}  // namespace winnow::tok
