// Tokenizer: tokenizer.json loading and the encode pipeline (added tokens -> normalizer ->
// pre-tokenizer -> model -> truncation -> post-processor -> padding), bit-exact with HF tokenizers.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/decoders.h"
#include "tokenizer/json_util.h"
#include "tokenizer/model.h"
#include "tokenizer/normalizers.h"
#include "tokenizer/post_processors.h"
#include "tokenizer/pre_tokenizers.h"
#include "tokenizer/unicode.h"

namespace winnow::tok {
namespace {

using json_util::json;

// Options come from callers and pipelines; bounded here, before padding allocates anything.
Status CheckLengthSettings(const EncodeOptions& opts) {
  auto check = [](size_t v, const char* what) {
    if (v <= kMaxLengthSetting) return Status::Ok();
    return Status(codes::kInvalidArgument, std::string(what) + " (" + std::to_string(v) + ") is larger than " +
                                               std::to_string(kMaxLengthSetting) + " tokens");
  };
  WINNOW_RETURN_IF_ERROR(check(opts.truncation.max_length, "truncation max_length"));
  if (!opts.padding.enabled) return Status::Ok();
  WINNOW_RETURN_IF_ERROR(check(opts.padding.length, "padding length"));
  return check(opts.padding.pad_to_multiple_of, "pad_to_multiple_of");
}

// The first position >= `from` holding an ASCII space after an ASCII letter or digit; text.size()
// when there is none.
size_t SpaceCutAtOrAfter(std::string_view text, size_t from) {
  for (size_t c = std::max<size_t>(from, 1); c < text.size(); ++c) {
    const void* sp = std::memchr(text.data() + c, ' ', text.size() - c);
    if (!sp) break;
    c = static_cast<size_t>(static_cast<const char*>(sp) - text.data());
    const unsigned char prev = static_cast<unsigned char>(text[c - 1]);
    if (prev < 0x80 && std::isalnum(prev)) return c;
  }
  return text.size();
}

// Whether the split at which EarlyStopAtMaxLength stops (the first reaching `max_length` tokens) is
// followed by another model split: the last split of a prefix may differ from the whole text's
// (an rstrip added token there takes the following spaces along), the ones before it may not.
bool KeptBeforeLastSplit(const Encoding& e, size_t max_length) {
  const auto& s = e.model_splits;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i].second >= max_length) return i + 1 < s.size();
  return false;
}

class TokenizerImpl final : public Tokenizer {
 public:
  Status Load(const json& root, std::unique_ptr<PreTokenizer> leading);

  Status EncodeRaw(std::string_view text, Encoding* out) const override {
    *out = Encoding();
    PreTokenizedString pts(std::string_view{});
    WINNOW_RETURN_IF_ERROR(added_.ExtractAndNormalize(normalizer_.get(), text, &pts));
    if (pre_tokenizer_) WINNOW_RETURN_IF_ERROR(pre_tokenizer_->PreTokenize(&pts));
    std::vector<Token> toks;
    size_t reserve = 0;
    for (const Split& s : pts.splits()) reserve += s.has_tokens ? s.tokens.size() : 1;
    out->ids.reserve(reserve);
    out->offsets.reserve(reserve);
    for (const Split& s : pts.splits()) {
      const std::vector<Token>* tv = &s.tokens;
      const uint32_t begin = static_cast<uint32_t>(out->ids.size());
      if (!s.has_tokens) {
        toks.clear();
        WINNOW_RETURN_IF_ERROR(model_->Tokenize(s.normalized.get(), &toks));
        tv = &toks;
      }
      for (const Token& t : *tv) {
        out->ids.push_back(t.id);
        out->offsets.push_back(s.normalized.ToOriginal(t.start, t.end));
      }
      if (!s.has_tokens) out->model_splits.emplace_back(begin, static_cast<uint32_t>(out->ids.size()));
    }
    const size_t n = out->ids.size();
    out->type_ids.assign(n, 0);
    out->special_tokens_mask.assign(n, 0);
    out->attention_mask.assign(n, 1);
    out->sequence_ids.assign(n, 0);
    return Status::Ok();
  }

  Status PostProcess(Encoding first, Encoding* pair, const EncodeOptions& opts, Encoding* out) const override {
    WINNOW_RETURN_IF_ERROR(CheckLengthSettings(opts));
    std::optional<Encoding> second;
    if (pair) {
      second = *pair;
      std::fill(second->type_ids.begin(), second->type_ids.end(), 1);
      std::fill(second->sequence_ids.begin(), second->sequence_ids.end(), 1);
    }
    std::fill(first.sequence_ids.begin(), first.sequence_ids.end(), 0);
    Encoding* sp = second ? &*second : nullptr;
    if (opts.truncation.max_length > 0) {
      TruncationOptions t = opts.truncation;
      EarlyStopAtMaxLength(&first, t.max_length, t.direction);
      if (sp) EarlyStopAtMaxLength(sp, t.max_length, t.direction);
      const size_t n_added = NumSpecialTokensToAdd(sp != nullptr);
      if (opts.add_special_tokens && n_added > 0) {
        if (t.max_length < n_added)
          return Status(codes::kInvalidArgument, "truncation max_length (" + std::to_string(t.max_length) +
                                                     ") is smaller than the number of special tokens (" +
                                                     std::to_string(n_added) + ")");
        t.max_length -= n_added;
      }
      if (t.max_length == 0) {
        WINNOW_RETURN_IF_ERROR(TruncateEncoding(&first, 0, t.stride, t.direction));
        if (sp) WINNOW_RETURN_IF_ERROR(TruncateEncoding(sp, 0, t.stride, t.direction));
      } else {
        WINNOW_RETURN_IF_ERROR(TruncateEncodings(&first, sp, t));
      }
      if (!t.keep_overflowing) {
        first.overflowing.clear();
        if (sp) sp->overflowing.clear();
      }
    } else {
      first.overflowing.clear();
      if (sp) sp->overflowing.clear();
    }
    std::vector<Encoding> encs;
    encs.push_back(std::move(first));
    if (sp) encs.push_back(std::move(*sp));
    if (post_processor_) WINNOW_RETURN_IF_ERROR(post_processor_->ProcessEncodings(&encs, opts.add_special_tokens));
    *out = MergeEncodings(std::move(encs));
    if (opts.padding.enabled) {
      size_t target = opts.padding.length ? opts.padding.length : out->ids.size();
      const size_t m = opts.padding.pad_to_multiple_of;
      if (m > 0 && target % m > 0) target += m - target % m;
      PadEncoding(out, target, opts.padding.pad_id, opts.padding.pad_type_id, opts.padding.direction);
    }
    return Status::Ok();
  }

  Status EncodeRawForTruncation(std::string_view text, size_t max_length, Encoding* out) const override {
    if (cuts_at_spaces_ && max_length > 0 && max_length <= kMaxLengthSetting) {
      // About 8 bytes per kept token to start with, then 4x: the prefixes cost at most a third more
      // than the last one.
      size_t want = std::max<size_t>(64, 8 * max_length);
      while (want < text.size()) {
        const size_t cut = SpaceCutAtOrAfter(text, want);
        if (cut >= text.size()) break;
        WINNOW_RETURN_IF_ERROR(EncodeRaw(text.substr(0, cut), out));
        if (KeptBeforeLastSplit(*out, max_length)) return Status::Ok();
        want = cut * 4;
      }
    }
    return EncodeRaw(text, out);
  }

  Status Encode(std::string_view text, const std::string_view* pair, const EncodeOptions& opts,
                Encoding* out) const override {
    const TruncationOptions& t = opts.truncation;
    auto raw = [&](std::string_view s, Encoding* e) {
      return t.max_length > 0 && t.direction == Direction::kRight ? EncodeRawForTruncation(s, t.max_length, e)
                                                                   : EncodeRaw(s, e);
    };
    Encoding a;
    WINNOW_RETURN_IF_ERROR(raw(text, &a));
    if (!pair) return PostProcess(std::move(a), nullptr, opts, out);
    Encoding b;
    WINNOW_RETURN_IF_ERROR(raw(*pair, &b));
    return PostProcess(std::move(a), &b, opts, out);
  }

  size_t NumSpecialTokensToAdd(bool is_pair) const override {
    return post_processor_ ? post_processor_->AddedTokens(is_pair) : 0;
  }

  std::optional<int32_t> TokenToId(std::string_view token) const override {
    if (auto id = added_.TokenToId(token)) return id;
    return model_->TokenToId(token);
  }
  std::optional<std::string> IdToToken(int32_t id) const override {
    if (auto t = added_.IdToToken(id)) return std::string(*t);
    if (auto t = model_->IdToToken(id)) return std::string(*t);
    return std::nullopt;
  }
  size_t VocabSize() const override { return model_->VocabSize() + added_.NumNotInModel(*model_); }
  std::optional<int32_t> UnkId() const override { return model_->UnkId(); }
  std::optional<PaddingOptions> DefaultPadding() const override { return padding_; }
  std::optional<TruncationOptions> DefaultTruncation() const override { return truncation_; }

  Status Decode(const int32_t* ids, size_t n, bool skip_special_tokens, std::string* out) const override {
    std::vector<std::string> tokens;
    tokens.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      std::optional<std::string_view> t = added_.IdToToken(ids[i]);
      if (!t) t = model_->IdToToken(ids[i]);
      if (!t) continue;
      if (skip_special_tokens && added_.IsSpecialToken(*t)) continue;
      tokens.emplace_back(*t);
    }
    out->clear();
    if (!decoder_) {
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (i) *out += ' ';
        *out += tokens[i];
      }
      return Status::Ok();
    }
    WINNOW_RETURN_IF_ERROR(decoder_->DecodeChain(&tokens));
    for (const std::string& t : tokens) *out += t;
    return Status::Ok();
  }

 private:
  Status LoadModel(const json& j);
  Status LoadAddedTokens(const json& j);
  Status LoadTruncation(const json& j);
  Status LoadPadding(const json& j);

  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  AddedVocabulary added_;
  std::optional<TruncationOptions> truncation_;
  std::optional<PaddingOptions> padding_;
  // Every piece of the pipeline keeps cuts at an ASCII space after an ASCII letter or digit (see
  // EncodeRawForTruncation).
  bool cuts_at_spaces_ = false;
};

Status TokenizerImpl::LoadModel(const json& j) {
  using namespace json_util;
  const std::string path = "model";
  WINNOW_RETURN_IF_ERROR(ExpectObject(j, path));
  std::string type;
  WINNOW_RETURN_IF_ERROR(GetString(j, "type", path, &type));
  if (type.empty()) {
    // Old files carry no type: recognise the family by its fields.
    const json* vocab = Find(j, "vocab");
    if (!vocab) return InvalidAt(Key(path, "vocab"), "missing required vocabulary");
    if (j.contains("merges")) type = "BPE";
    else if (vocab->is_array()) type = "Unigram";
    else if (j.contains("continuing_subword_prefix") || j.contains("max_input_chars_per_word")) type = "WordPiece";
    else type = "WordLevel";
  }
  StatusOr<std::unique_ptr<Model>> m = Status(codes::kInternal, "unreachable");
  if (type == "WordPiece") m = LoadWordPiece(j, path);
  else if (type == "WordLevel") m = LoadWordLevel(j, path);
  else if (type == "BPE") m = LoadBpe(j, path);
  else if (type == "Unigram") m = LoadUnigram(j, path);
  else return Unsupported(path, type);
  if (!m.ok()) return m.status();
  model_ = std::move(m).value();
  return Status::Ok();
}

Status TokenizerImpl::LoadAddedTokens(const json& j) {
  using namespace json_util;
  const std::string path = "added_tokens";
  if (!j.is_array()) return InvalidAt(path, std::string("expected an array, got ") + j.type_name());
  std::vector<AddedToken> tokens;
  for (size_t i = 0; i < j.size(); ++i) {
    const json& t = j[i];
    const std::string tpath = Index(path, i);
    WINNOW_RETURN_IF_ERROR(ExpectObject(t, tpath));
    AddedToken a;
    WINNOW_RETURN_IF_ERROR(GetString(t, "content", tpath, &a.content, /*required=*/true));
    if (const json* id = Find(t, "id")) {
      int32_t unused;
      WINNOW_RETURN_IF_ERROR(ToId(*id, Key(tpath, "id"), &unused));
    }
    WINNOW_RETURN_IF_ERROR(GetBool(t, "special", tpath, &a.special));
    a.normalized = !a.special;
    WINNOW_RETURN_IF_ERROR(GetBool(t, "single_word", tpath, &a.single_word));
    WINNOW_RETURN_IF_ERROR(GetBool(t, "lstrip", tpath, &a.lstrip));
    WINNOW_RETURN_IF_ERROR(GetBool(t, "rstrip", tpath, &a.rstrip));
    WINNOW_RETURN_IF_ERROR(GetBool(t, "normalized", tpath, &a.normalized));
    tokens.push_back(std::move(a));
  }
  return added_.AddTokens(tokens, *model_, normalizer_.get());
}

Status ParseDirection(const json& j, const char* key, const std::string& path, Direction* d) {
  std::string s;
  WINNOW_RETURN_IF_ERROR(json_util::GetString(j, key, path, &s));
  if (s.empty() || s == "Right") *d = Direction::kRight;
  else if (s == "Left") *d = Direction::kLeft;
  else return InvalidAt(json_util::Key(path, key), "expected \"Right\" or \"Left\", got \"" + s + "\"");
  return Status::Ok();
}

Status TokenizerImpl::LoadTruncation(const json& j) {
  using namespace json_util;
  const std::string path = "truncation";
  WINNOW_RETURN_IF_ERROR(ExpectObject(j, path));
  TruncationOptions t;
  t.keep_overflowing = true;
  uint64_t v = 0;
  WINNOW_RETURN_IF_ERROR(GetUint(j, "max_length", path, &v, /*required=*/true, kMaxLengthSetting));
  t.max_length = v;
  v = 0;
  WINNOW_RETURN_IF_ERROR(GetUint(j, "stride", path, &v));
  t.stride = v;
  std::string s;
  WINNOW_RETURN_IF_ERROR(GetString(j, "strategy", path, &s));
  if (s.empty() || s == "LongestFirst") t.strategy = TruncationStrategy::kLongestFirst;
  else if (s == "OnlyFirst") t.strategy = TruncationStrategy::kOnlyFirst;
  else if (s == "OnlySecond") t.strategy = TruncationStrategy::kOnlySecond;
  else return InvalidAt(Key(path, "strategy"), "unknown truncation strategy \"" + s + "\"");
  WINNOW_RETURN_IF_ERROR(ParseDirection(j, "direction", path, &t.direction));
  truncation_ = t;
  return Status::Ok();
}

Status TokenizerImpl::LoadPadding(const json& j) {
  using namespace json_util;
  const std::string path = "padding";
  WINNOW_RETURN_IF_ERROR(ExpectObject(j, path));
  PaddingOptions p;
  p.enabled = true;
  if (const json* st = Find(j, "strategy")) {
    if (st->is_string() && st->get<std::string>() == "BatchLongest") {
      p.length = 0;
    } else if (st->is_object() && st->contains("Fixed")) {
      uint64_t n = 0;
      WINNOW_RETURN_IF_ERROR(GetUint(*st, "Fixed", Key(path, "strategy"), &n, true, kMaxLengthSetting));
      p.length = n;
    } else {
      return InvalidAt(Key(path, "strategy"), "expected \"BatchLongest\" or {\"Fixed\": n}");
    }
  }
  WINNOW_RETURN_IF_ERROR(ParseDirection(j, "direction", path, &p.direction));
  uint64_t v = 0;
  WINNOW_RETURN_IF_ERROR(GetUint(j, "pad_to_multiple_of", path, &v, false, kMaxLengthSetting));
  p.pad_to_multiple_of = v;
  if (const json* id = Find(j, "pad_id")) WINNOW_RETURN_IF_ERROR(ToId(*id, Key(path, "pad_id"), &p.pad_id));
  if (const json* id = Find(j, "pad_type_id")) WINNOW_RETURN_IF_ERROR(ToId(*id, Key(path, "pad_type_id"), &p.pad_type_id));
  padding_ = p;
  return Status::Ok();
}

Status TokenizerImpl::Load(const json& root, std::unique_ptr<PreTokenizer> leading) {
  using namespace json_util;
  if (!root.is_object()) return InvalidAt("$", std::string("expected a tokenizer.json object, got ") + root.type_name());
  if (const json* n = Find(root, "normalizer")) {
    WINNOW_ASSIGN_OR_RETURN(normalizer_, LoadNormalizer(*n, "normalizer"));
  }
  if (const json* p = Find(root, "pre_tokenizer")) {
    WINNOW_ASSIGN_OR_RETURN(pre_tokenizer_, LoadPreTokenizer(*p, "pre_tokenizer"));
  }
  if (leading) {
    std::vector<std::unique_ptr<PreTokenizer>> seq;
    seq.push_back(std::move(leading));
    if (pre_tokenizer_) seq.push_back(std::move(pre_tokenizer_));
    pre_tokenizer_ = MakeSequencePreTokenizer(std::move(seq));
  }
  const json* m = Find(root, "model");
  if (!m) return InvalidAt("model", "missing required model");
  WINNOW_RETURN_IF_ERROR(LoadModel(*m));
  if (const json* p = Find(root, "post_processor")) {
    WINNOW_ASSIGN_OR_RETURN(post_processor_, LoadPostProcessor(*p, "post_processor", [this](int32_t id) { return IdToToken(id); }));
  }
  if (const json* d = Find(root, "decoder")) {
    WINNOW_ASSIGN_OR_RETURN(decoder_, LoadDecoder(*d, "decoder"));
  }
  if (const json* a = Find(root, "added_tokens")) WINNOW_RETURN_IF_ERROR(LoadAddedTokens(*a));
  if (const json* t = Find(root, "truncation")) WINNOW_RETURN_IF_ERROR(LoadTruncation(*t));
  if (const json* p = Find(root, "padding")) WINNOW_RETURN_IF_ERROR(LoadPadding(*p));
  cuts_at_spaces_ = (!normalizer_ || normalizer_->KeepsSpaceCuts()) && pre_tokenizer_ &&
                    pre_tokenizer_->AtSpaceCut() == PreTokenizer::SpaceCut::kSplits && !added_.AnyTokenSpansSpace();
  return Status::Ok();
}

}  // namespace

namespace {

// Containers nest at most this deep in a tokenizer.json; real files stay under 16 levels and
// kMaxSequenceDepth Sequences take two levels each.
constexpr int kMaxJsonDepth = 2 * json_util::kMaxSequenceDepth + 32;

// Thrown from the parser callback to stop at the first container nested too deep.
struct TooDeep {
  std::string path;
};

}  // namespace

// json::parse with the nesting bounded: the parse stops at the first container opened deeper than
// kMaxJsonDepth, and the error names its JSON path (kept as a stack of keys / indices).
Status json_util::ParseJson(std::string_view text, json* root) {
  struct Frame {
    bool array;
    size_t index;
    std::string key;
  };
  std::vector<Frame> frames;
  auto path = [&frames]() {
    std::string p;
    for (const Frame& f : frames) p = f.array ? json_util::Index(p, f.index) : json_util::Key(p, f.key.c_str());
    return p.empty() ? std::string("$") : p;
  };
  auto next_in_array = [&frames]() {
    if (!frames.empty() && frames.back().array) ++frames.back().index;
  };
  auto on_event = [&](int depth, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) throw TooDeep{path()};
        frames.push_back(Frame{ev == json::parse_event_t::array_start, 0, {}});
        break;
      case json::parse_event_t::key:
        frames.back().key = parsed.get_ref<const std::string&>();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames.pop_back();
        next_in_array();
        break;
      case json::parse_event_t::value:
        next_in_array();
        break;
    }
    return true;
  };
  try {
    *root = json::parse(text.begin(), text.end(), on_event);
  } catch (const TooDeep& e) {
    return InvalidAt(e.path, "JSON nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
  } catch (const std::exception& e) {
    return Status(codes::kTokenizerInvalid, std::string("$: not valid JSON: ") + e.what());
  }
  return Status::Ok();
}

// Reads a whole regular file. A FIFO, device or socket is refused before any read (O_NONBLOCK keeps
// the open of a FIFO without writer from blocking), as the model loaders refuse what they cannot map.
StatusOr<std::string> ReadRegularFile(const std::string& path) {
  auto fail = [&](const char* what, int err) {
    return Status(codes::kIo, std::string(what) + " tokenizer file '" + path + "': " + std::strerror(err));
  };
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return fail("cannot open", errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return fail("cannot stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(codes::kIo, "tokenizer file '" + path + "' is not a regular file (" +
                                  (S_ISDIR(st.st_mode) ? "a folder" : "a FIFO, socket or device") + ")");
  }
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return fail("cannot read", err);
    }
    if (n == 0) break;  // the file shrank while being read
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view text) {
  return FromJson(text, nullptr);
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view text, std::unique_ptr<PreTokenizer> leading) {
  json root;
  WINNOW_RETURN_IF_ERROR(json_util::ParseJson(text, &root));
  auto t = std::make_unique<TokenizerImpl>();
  try {
    WINNOW_RETURN_IF_ERROR(t->Load(root, std::move(leading)));
  } catch (const std::exception& e) {
    // Every access is type-checked; this is a last line of defence.
    return Status(codes::kTokenizerInvalid, std::string("$: ") + e.what());
  }
  return std::unique_ptr<Tokenizer>(std::move(t));
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& path) {
  WINNOW_ASSIGN_OR_RETURN(std::string text, ReadRegularFile(path));
  return FromJson(text);
}

void ByteOffsetsToUtf16(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>* offsets) {
  size_t byte_pos = 0;
  uint32_t u16_pos = 0;
  auto convert = [&](uint32_t b) -> uint32_t {
    // Offsets are not monotonic (byte-level tokens inside one char all span that char): step back
    // char by char from the last position instead of rescanning from the start, which made long
    // runs of multi-byte chars quadratic.
    while (byte_pos > b) {
      size_t p = byte_pos - 1;
      while (p > 0 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
      u16_pos -= byte_pos - p == 4 ? 2 : 1;
      byte_pos = p;
    }
    // A position inside a char (byte-level offsets trimmed by a post-processor can end there)
    // maps to that char's start, as the reference's byte -> char conversion does.
    while (byte_pos < b && byte_pos < text.size()) {
      const unsigned char c = static_cast<unsigned char>(text[byte_pos]);
      int n = unicode::Utf8Len(c);
      if (byte_pos + n > text.size()) n = static_cast<int>(text.size() - byte_pos);
      if (byte_pos + n > b) break;
      u16_pos += n == 4 ? 2 : 1;
      byte_pos += n;
    }
    return u16_pos;
  };
  for (auto& o : *offsets) {
    o.first = convert(o.first);
    o.second = convert(o.second);
  }
}

}  // namespace winnow::tok
