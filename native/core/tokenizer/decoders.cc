#include "tokenizer/decoders.h"

#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace winnow::tok {
namespace {

using json_util::json;

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t f = s->find(from, pos);
    if (f == std::string::npos) break;
    out.append(*s, pos, f - pos);
    out.append(to);
    pos = f + from.size();
  }
  if (pos == 0) return;
  out.append(*s, pos, std::string::npos);
  *s = std::move(out);
}

void Cleanup(std::string* s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [a, b] : kRules) ReplaceAll(s, a, b);
}

class WordPieceDecoder final : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      std::string& t = (*tokens)[i];
      if (i != 0) {
        if (t.compare(0, prefix_.size(), prefix_) == 0) t.erase(0, prefix_.size());
        else t.insert(0, " ");
      }
      if (cleanup_) Cleanup(&t);
    }
    return Status::Ok();
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(std::unique_ptr<Regex> re, std::string content) : re_(std::move(re)), content_(std::move(content)) {}
  Status DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<Match> m;
    for (std::string& t : *tokens) {
      WINNOW_RETURN_IF_ERROR(re_->FindMatches(t, &m));
      std::string out;
      for (const Match& x : m) {
        if (x.is_match) out += content_;
        else out.append(t, x.start, x.end - x.start);
      }
      t = std::move(out);
    }
    return Status::Ok();
  }

 private:
  std::unique_ptr<Regex> re_;
  std::string content_;
};

class FuseDecoder final : public Decoder {
 public:
  Status DecodeChain(std::vector<std::string>* tokens) const override {
    std::string all;
    for (const std::string& t : *tokens) all += t;
    tokens->assign(1, std::move(all));
    return Status::Ok();
  }
};

class StripDecoder final : public Decoder {
 public:
  StripDecoder(uint32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (std::string& t : *tokens) {
      std::vector<uint32_t> cps;
      for (size_t i = 0; i < t.size();) {
        int len;
        cps.push_back(unicode::Decode(t, i, &len));
        i += len;
      }
      size_t b = 0, e = cps.size();
      for (size_t k = 0; k < start_ && b < e && cps[b] == content_; ++k) ++b;
      for (size_t k = 0; k < stop_ && e > b && cps[e - 1] == content_; ++k) --e;
      std::string out;
      for (size_t k = b; k < e; ++k) unicode::Append(cps[k], &out);
      t = std::move(out);
    }
    return Status::Ok();
  }

 private:
  uint32_t content_;
  size_t start_, stop_;
};

class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first) : repl_(std::move(replacement)), strip_first_(strip_first) {}
  Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) ReplaceAll(&(*tokens)[i], repl_, (i == 0 && strip_first_) ? "" : " ");
    return Status::Ok();
  }

 private:
  std::string repl_;
  bool strip_first_;
};

class BpeDecoder final : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) ReplaceAll(&(*tokens)[i], suffix_, i + 1 == tokens->size() ? "" : " ");
    return Status::Ok();
  }

 private:
  std::string suffix_;
};

// Appends bytes as UTF-8, replacing invalid sequences by U+FFFD (from_utf8_lossy).
void AppendLossy(const std::string& bytes, std::string* out) {
  size_t i = 0;
  while (i < bytes.size()) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    int n = c < 0x80 ? 1 : (c >= 0xC2 && c < 0xE0) ? 2 : (c >= 0xE0 && c < 0xF0) ? 3 : (c >= 0xF0 && c < 0xF5) ? 4 : 0;
    bool ok = n > 0 && i + n <= bytes.size();
    for (int k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    if (ok && n >= 3) {
      int len;
      uint32_t cp = unicode::Decode(bytes, i, &len);
      ok = !(cp < (n == 3 ? 0x800u : 0x10000u)) && !(cp >= 0xD800 && cp <= 0xDFFF) && cp <= 0x10FFFF;
    }
    if (ok) {
      out->append(bytes, i, n);
      i += n;
    } else {
      out->append("\xEF\xBF\xBD");
      ++i;
    }
  }
}

class ByteLevelDecoder final : public Decoder {
 public:
  ByteLevelDecoder() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool direct = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      uint32_t cp = direct ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
      rev_[cp] = static_cast<uint8_t>(b);
      has_[cp] = true;
    }
  }
  Status DecodeChain(std::vector<std::string>* tokens) const override {
    std::string bytes;
    for (const std::string& t : *tokens) {
      for (size_t i = 0; i < t.size();) {
        int len;
        uint32_t cp = unicode::Decode(t, i, &len);
        if (cp < 512 && has_[cp]) bytes.push_back(static_cast<char>(rev_[cp]));
        else bytes.append(t, i, len);
        i += len;
      }
    }
    std::string out;
    AppendLossy(bytes, &out);
    tokens->assign(1, std::move(out));
    return Status::Ok();
  }

 private:
  uint8_t rev_[512] = {};
  bool has_[512] = {};
};

class ByteFallbackDecoder final : public Decoder {
 public:
  Status DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&]() {
      if (pending.empty()) return;
      std::string s;
      AppendLossy(pending, &s);
      out.push_back(std::move(s));
      pending.clear();
    };
    for (std::string& t : *tokens) {
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && isxdigit(t[3]) && isxdigit(t[4])) {
        pending.push_back(static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    *tokens = std::move(out);
    return Status::Ok();
  }
};

class SequenceDecoder final : public Decoder {
 public:
  std::vector<std::unique_ptr<Decoder>> seq_;
  Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (const auto& d : seq_) WINNOW_RETURN_IF_ERROR(d->DecodeChain(tokens));
    return Status::Ok();
  }
};

}  // namespace

StatusOr<std::unique_ptr<Decoder>> LoadDecoder(const nlohmann::json& j, const std::string& path, int depth) {
  using namespace json_util;
  std::string type;
  WINNOW_RETURN_IF_ERROR(GetType(j, path, &type));
  if (type == "WordPiece") {
    std::string prefix = "##";
    bool cleanup = true;
    WINNOW_RETURN_IF_ERROR(GetString(j, "prefix", path, &prefix));
    WINNOW_RETURN_IF_ERROR(GetBool(j, "cleanup", path, &cleanup));
    return std::unique_ptr<Decoder>(new WordPieceDecoder(prefix, cleanup));
  }
  if (type == "Replace") {
    const json* pat = Find(j, "pattern");
    if (!pat) return InvalidAt(Key(path, "pattern"), "missing required pattern");
    WINNOW_ASSIGN_OR_RETURN(std::unique_ptr<Regex> re, LoadPattern(*pat, Key(path, "pattern")));
    std::string content;
    WINNOW_RETURN_IF_ERROR(GetString(j, "content", path, &content, true));
    return std::unique_ptr<Decoder>(new ReplaceDecoder(std::move(re), content));
  }
  if (type == "Fuse") return std::unique_ptr<Decoder>(new FuseDecoder());
  if (type == "ByteFallback") return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
  if (type == "ByteLevel") return std::unique_ptr<Decoder>(new ByteLevelDecoder());
  if (type == "Strip") {
    std::string content = " ";
    uint64_t start = 0, stop = 0;
    WINNOW_RETURN_IF_ERROR(GetString(j, "content", path, &content));
    WINNOW_RETURN_IF_ERROR(GetUint(j, "start", path, &start));
    WINNOW_RETURN_IF_ERROR(GetUint(j, "stop", path, &stop));
    int len = 0;
    uint32_t cp = content.empty() ? 0 : unicode::Decode(content, 0, &len);
    if (content.empty() || static_cast<size_t>(len) != content.size())
      return InvalidAt(Key(path, "content"), "expected a single character");
    return std::unique_ptr<Decoder>(new StripDecoder(cp, start, stop));
  }
  if (type == "Metaspace") {
    std::string repl = "\xE2\x96\x81";
    WINNOW_RETURN_IF_ERROR(GetString(j, "replacement", path, &repl));
    bool strip_first = true;
    std::string scheme;
    WINNOW_RETURN_IF_ERROR(GetString(j, "prepend_scheme", path, &scheme));
    if (scheme == "never") strip_first = false;
    if (scheme.empty()) WINNOW_RETURN_IF_ERROR(GetBool(j, "add_prefix_space", path, &strip_first));
    return std::unique_ptr<Decoder>(new MetaspaceDecoder(repl, strip_first));
  }
  if (type == "BPEDecoder") {
    std::string suffix = "</w>";
    WINNOW_RETURN_IF_ERROR(GetString(j, "suffix", path, &suffix));
    return std::unique_ptr<Decoder>(new BpeDecoder(suffix));
  }
  if (type == "Sequence") {
    WINNOW_RETURN_IF_ERROR(CheckSequenceDepth(depth, path));
    const json* arr = Find(j, "decoders");
    const std::string apath = Key(path, "decoders");
    if (!arr || !arr->is_array()) return InvalidAt(apath, "expected an array");
    auto s = std::make_unique<SequenceDecoder>();
    for (size_t i = 0; i < arr->size(); ++i) {
      WINNOW_ASSIGN_OR_RETURN(std::unique_ptr<Decoder> d, LoadDecoder((*arr)[i], Index(apath, i), depth + 1));
      s->seq_.push_back(std::move(d));
    }
    return std::unique_ptr<Decoder>(std::move(s));
  }
  if (type.empty()) return InvalidAt(Key(path, "type"), "missing decoder type");
  return Unsupported(path, type);
}

}  // namespace winnow::tok
