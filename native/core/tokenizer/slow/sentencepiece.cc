// The sentencepiece ModelProto (protobuf wire format, read with onnx/wire.h's bounds-checked reader) turned into
// the tokenizer.json document transformers' convert_slow_tokenizer builds for the slow tokenizer classes, then
// loaded through Tokenizer::FromJson, so encoding runs the one verified runtime path.
#include "tokenizer/slow/sentencepiece.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "onnx/wire.h"

namespace winnow::tok::slow {
namespace {

using json = nlohmann::json;
namespace pb = winnow::onnx::pb;

// sentencepiece_model.proto's enums and field numbers.
enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
enum ModelType { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };

struct Piece {
  std::string piece;
  float score = 0.0f;
  int type = kNormal;
};

struct SpModel {
  std::vector<Piece> pieces;
  // trainer_spec
  int model_type = kUnigram;
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  int32_t unk_id = 0;
  std::string unk_piece = "<unk>";
  // normalizer_spec
  std::string charsmap;
};

const std::string kMeta = "\xE2\x96\x81";  // U+2581, sentencepiece's whitespace

Status Invalid(const std::string& file, const std::string& what) {
  return Status(codes::kTokenizerInvalid, "sentencepiece model '" + file + "': " + what);
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
    else return false;
    if (s.size() - i < static_cast<size_t>(n)) return false;
    for (int k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// An int32 field: protobuf writes negative values as 10-byte varints.
bool ToInt32(uint64_t v, int32_t* out) {
  const auto s = static_cast<int64_t>(v);
  if (s < INT32_MIN || s > INT32_MAX) return false;
  *out = static_cast<int32_t>(s);
  return true;
}

Status ParsePiece(std::string_view bytes, size_t index, const std::string& file, Piece* p) {
  const std::string where = "pieces[" + std::to_string(index) + "]";
  pb::Reader r(bytes);
  pb::Field f;
  bool have_piece = false;
  while (r.Next(&f)) {
    if (f.number == 1) {
      if (f.wire != pb::kLen) return Invalid(file, where + ".piece has the wrong wire type");
      p->piece.assign(f.bytes);
      have_piece = true;
    } else if (f.number == 2) {
      if (f.wire != pb::kFixed32) return Invalid(file, where + ".score has the wrong wire type");
      const auto bits = static_cast<uint32_t>(f.varint);
      std::memcpy(&p->score, &bits, sizeof bits);
    } else if (f.number == 3) {
      if (f.wire != pb::kVarint) return Invalid(file, where + ".type has the wrong wire type");
      if (f.varint < kNormal || f.varint > kByte)
        return Invalid(file, where + ".type " + std::to_string(f.varint) + " is not a piece type (1-6)");
      p->type = static_cast<int>(f.varint);
    }
  }
  if (!r.ok()) return Invalid(file, where + " is truncated or not a protobuf message");
  if (!have_piece || p->piece.empty()) return Invalid(file, where + " has no piece string");
  if (!ValidUtf8(p->piece)) return Invalid(file, where + ".piece is not valid UTF-8");
  if (!std::isfinite(p->score)) return Invalid(file, where + ".score is not a finite number");
  return Status::Ok();
}

Status ParseTrainerSpec(std::string_view bytes, const std::string& file, SpModel* m) {
  pb::Reader r(bytes);
  pb::Field f;
  while (r.Next(&f)) {
    const bool varint = f.wire == pb::kVarint;
    switch (f.number) {
      case 3:  // model_type
        if (!varint) return Invalid(file, "trainer_spec.model_type has the wrong wire type");
        if (f.varint < kUnigram || f.varint > kChar)
          return Invalid(file, "trainer_spec.model_type " + std::to_string(f.varint) + " is not a model type (1-4)");
        m->model_type = static_cast<int>(f.varint);
        break;
      case 35:  // byte_fallback
        if (!varint) return Invalid(file, "trainer_spec.byte_fallback has the wrong wire type");
        m->byte_fallback = f.varint != 0;
        break;
      case 24:  // treat_whitespace_as_suffix
        if (!varint) return Invalid(file, "trainer_spec.treat_whitespace_as_suffix has the wrong wire type");
        m->treat_whitespace_as_suffix = f.varint != 0;
        break;
      case 40:  // unk_id
        if (!varint || !ToInt32(f.varint, &m->unk_id)) return Invalid(file, "trainer_spec.unk_id is not an int32");
        break;
      case 45:  // unk_piece
        if (f.wire != pb::kLen) return Invalid(file, "trainer_spec.unk_piece has the wrong wire type");
        m->unk_piece.assign(f.bytes);
        if (!ValidUtf8(m->unk_piece)) return Invalid(file, "trainer_spec.unk_piece is not valid UTF-8");
        break;
      default:
        break;
    }
  }
  if (!r.ok()) return Invalid(file, "trainer_spec is truncated or not a protobuf message");
  return Status::Ok();
}

Status ParseNormalizerSpec(std::string_view bytes, const std::string& file, SpModel* m) {
  pb::Reader r(bytes);
  pb::Field f;
  while (r.Next(&f)) {
    if (f.number == 2) {  // precompiled_charsmap
      if (f.wire != pb::kLen) return Invalid(file, "normalizer_spec.precompiled_charsmap has the wrong wire type");
      m->charsmap.assign(f.bytes);
    }
  }
  if (!r.ok()) return Invalid(file, "normalizer_spec is truncated or not a protobuf message");
  return Status::Ok();
}

StatusOr<SpModel> ParseModel(std::string_view bytes, const std::string& file) {
  SpModel m;
  pb::Reader r(bytes);
  pb::Field f;
  while (r.Next(&f)) {
    if (f.number >= 1 && f.number <= 3 && f.wire != pb::kLen)
      return Invalid(file, "field " + std::to_string(f.number) + " of ModelProto has the wrong wire type");
    if (f.number == 1) {
      Piece p;
      WINNOW_RETURN_IF_ERROR(ParsePiece(f.bytes, m.pieces.size(), file, &p));
      m.pieces.push_back(std::move(p));
    } else if (f.number == 2) {
      WINNOW_RETURN_IF_ERROR(ParseTrainerSpec(f.bytes, file, &m));
    } else if (f.number == 3) {
      WINNOW_RETURN_IF_ERROR(ParseNormalizerSpec(f.bytes, file, &m));
    }
  }
  if (!r.ok()) return Invalid(file, "truncated or not a sentencepiece model (a protobuf ModelProto)");
  if (m.pieces.empty()) return Invalid(file, "no pieces");
  if (m.model_type == kWord || m.model_type == kChar)
    return Status(codes::kTokenizerUnsupported, "sentencepiece model '" + file + "': model type " +
                                                    (m.model_type == kWord ? "WORD" : "CHAR") +
                                                    " (Winnow reads UNIGRAM and BPE models)");
  if (m.treat_whitespace_as_suffix)
    return Status(codes::kTokenizerUnsupported,
                  "sentencepiece model '" + file + "': treat_whitespace_as_suffix (the converted tokenizer would "
                  "put the whitespace on the wrong side)");
  if (m.unk_id < 0 || static_cast<size_t>(m.unk_id) >= m.pieces.size())
    return Invalid(file, "trainer_spec.unk_id " + std::to_string(m.unk_id) + " is out of range (" +
                             std::to_string(m.pieces.size()) + " pieces)");
  if (m.pieces[m.unk_id].type != kUnknown)
    return Invalid(file, "trainer_spec.unk_id " + std::to_string(m.unk_id) + " names piece \"" +
                             m.pieces[m.unk_id].piece + "\", which is not the unknown piece");
  std::unordered_map<std::string_view, size_t> seen;
  seen.reserve(m.pieces.size());
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const Piece& p = m.pieces[i];
    if (p.type == kUnknown && i != static_cast<size_t>(m.unk_id))
      return Invalid(file, "pieces[" + std::to_string(i) + "] is a second unknown piece");
    auto [it, fresh] = seen.emplace(p.piece, i);
    if (!fresh)
      return Invalid(file, "pieces[" + std::to_string(i) + "] \"" + p.piece + "\" repeats pieces[" +
                               std::to_string(it->second) + "]");
  }
  return m;
}

// ---- special tokens from the folder's files, as transformers' from_pretrained collects them ----

// One token with AddedToken's flags.
struct Added {
  std::string content;
  bool special = true, normalized = false, lstrip = false, rstrip = false, single_word = false;
};

Status JsonInvalid(const std::string& file, const std::string& path, const std::string& what) {
  return Status(codes::kTokenizerInvalid, file + ": " + path + " " + what);
}

// A special token value: a string, or an AddedToken object ({"content": ..., "lstrip": ...}); null = none.
Status ReadTokenValue(const json& v, const std::string& file, const std::string& path, std::optional<Added>* out) {
  if (v.is_null()) {
    out->reset();
    return Status::Ok();
  }
  Added a;
  if (v.is_string()) {
    a.content = v.get<std::string>();
  } else if (v.is_object()) {
    auto c = v.find("content");
    if (c == v.end() || !c->is_string()) return JsonInvalid(file, path, "has no \"content\" string");
    a.content = c->get<std::string>();
    for (auto [key, flag] : {std::pair<const char*, bool*>{"special", &a.special}, {"normalized", &a.normalized},
                             {"lstrip", &a.lstrip}, {"rstrip", &a.rstrip}, {"single_word", &a.single_word}}) {
      auto it = v.find(key);
      if (it == v.end() || it->is_null()) continue;
      if (!it->is_boolean()) return JsonInvalid(file, path + "." + key, "is not a boolean");
      *flag = it->get<bool>();
    }
  } else {
    return JsonInvalid(file, path, std::string("is not a string or a token object (got ") + v.type_name() + ")");
  }
  if (a.content.empty()) return JsonInvalid(file, path, "is an empty token");
  *out = std::move(a);
  return Status::Ok();
}

struct ClassSpec {
  // Conversion details of one class.
  enum Kind { kXlmRoberta, kCamembert, kDebertaV2, kT5 } kind;
  // Default special tokens, in transformers' SPECIAL_TOKENS_ATTRIBUTES order (empty: none).
  const char* defaults[7];  // bos, eos, unk, sep, pad, cls, mask
};

constexpr const char* kSpecialKeys[7] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                         "pad_token", "cls_token", "mask_token"};

std::optional<ClassSpec> FindClass(const std::string& name) {
  if (name == "XLMRobertaTokenizer" || name == "XLMRobertaTokenizerFast")
    return ClassSpec{ClassSpec::kXlmRoberta, {"<s>", "</s>", "<unk>", "</s>", "<pad>", "<s>", "<mask>"}};
  if (name == "CamembertTokenizer" || name == "CamembertTokenizerFast")
    return ClassSpec{ClassSpec::kCamembert, {"<s>", "</s>", "<unk>", "</s>", "<pad>", "<s>", "<mask>"}};
  if (name == "DebertaV2Tokenizer" || name == "DebertaV2TokenizerFast")
    return ClassSpec{ClassSpec::kDebertaV2, {"[CLS]", "[SEP]", "[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"}};
  if (name == "T5Tokenizer" || name == "T5TokenizerFast")
    return ClassSpec{ClassSpec::kT5, {"", "</s>", "<unk>", "", "<pad>", "", ""}};
  return std::nullopt;
}

// A boolean option of tokenizer_config.json (absent or null: `def`).
Status ConfigBool(const json& config, const char* key, bool def, bool* out) {
  *out = def;
  if (!config.is_object()) return Status::Ok();
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return JsonInvalid("tokenizer_config.json", key, "is not a boolean");
  *out = it->get<bool>();
  return Status::Ok();
}

// ---- tokenizer.json pieces ----

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                       static_cast<uint8_t>(in[i + 2]);
    for (int s : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// transformers' generate_merges with scores: every split of every vocab piece into two pieces of the original
// model, per piece ordered by the halves' original ids, then all stably ordered by (score, left length, right
// length) descending (lengths in code points).
json BpeMerges(const std::vector<std::pair<std::string, float>>& vocab, const SpModel& m) {
  std::unordered_map<std::string_view, size_t> sp_id;
  sp_id.reserve(m.pieces.size());
  for (size_t i = 0; i < m.pieces.size(); ++i) sp_id.emplace(m.pieces[i].piece, i);
  // dict(vocab_scores): first position, last score.
  std::vector<std::pair<std::string_view, float>> unique;
  std::unordered_map<std::string_view, size_t> pos;
  for (const auto& [piece, score] : vocab) {
    auto [it, fresh] = pos.emplace(piece, unique.size());
    if (fresh) unique.emplace_back(piece, score);
    else unique[it->second].second = score;
  }
  struct Merge {
    std::string_view l, r;
    float score;
    size_t ll, rl;
  };
  std::vector<Merge> merges;
  std::vector<std::pair<std::pair<size_t, size_t>, Merge>> local;
  for (const auto& [piece, score] : unique) {
    local.clear();
    for (size_t k = 1; k < piece.size(); ++k) {
      if ((static_cast<unsigned char>(piece[k]) & 0xC0) == 0x80) continue;  // split between code points only
      const std::string_view l = piece.substr(0, k), r = piece.substr(k);
      auto li = sp_id.find(l), ri = sp_id.find(r);
      if (li == sp_id.end() || ri == sp_id.end()) continue;
      local.push_back({{li->second, ri->second}, Merge{l, r, score, CodePoints(l), CodePoints(r)}});
    }
    std::stable_sort(local.begin(), local.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& e : local) merges.push_back(e.second);
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.ll != b.ll) return a.ll > b.ll;
    return a.rl > b.rl;
  });
  json out = json::array();
  for (const Merge& e : merges) out.push_back(json::array({std::string(e.l), std::string(e.r)}));
  return out;
}

json Metaspace(const std::string& scheme) {
  return {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", scheme}, {"split", true}};
}

json Template(const std::vector<std::pair<std::string, int>>& items) {
  json t = json::array();
  for (const auto& [id, type_id] : items) {
    if (id == "A" || id == "B") t.push_back({{"Sequence", {{"id", id}, {"type_id", type_id}}}});
    else t.push_back({{"SpecialToken", {{"id", id}, {"type_id", type_id}}}});
  }
  return t;
}

Status ReadSmallFile(const std::string& path, size_t limit, bool* exists, std::string* out, const std::string& what) {
  *exists = false;
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status(codes::kIo, "cannot open " + what + " '" + path + "': " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(codes::kIo, what + " '" + path + "' is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > limit) {
    ::close(fd);
    return Status(codes::kTokenizerInvalid, what + " '" + path + "' has " + std::to_string(st.st_size) +
                                                " bytes, more than the " + std::to_string(limit) + " read");
  }
  out->resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out->size()) {
    const ssize_t n = ::read(fd, out->data() + got, out->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      return Status(codes::kIo, "cannot read " + what + " '" + path + "': " + std::strerror(err));
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  *exists = true;
  return Status::Ok();
}

// A small JSON file of the folder (special_tokens_map.json, added_tokens.json); null when absent.
StatusOr<json> ReadFolderJson(const std::string& dir, const char* name) {
  const std::string path = dir + "/" + name;
  std::string text;
  bool exists;
  WINNOW_RETURN_IF_ERROR(ReadSmallFile(path, size_t{16} << 20, &exists, &text, name));
  if (!exists) return json();
  constexpr int kMaxDepth = 32;  // these files nest two levels
  struct TooDeep {};
  try {
    return json::parse(text, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    return Status(codes::kTokenizerInvalid, path + ": JSON nested more than " + std::to_string(kMaxDepth) + " levels deep");
  } catch (const json::exception& e) {
    return Status(codes::kTokenizerInvalid, path + ": not valid JSON (" + e.what() + ")");
  }
}

}  // namespace

StatusOr<json> SentencePieceToTokenizerJson(std::string_view model_bytes, const std::string& file,
                                            const std::string& tokenizer_class, const SentencePieceFolderFiles& files) {
  const std::optional<ClassSpec> spec = FindClass(tokenizer_class);
  if (!spec)
    return Status(codes::kTokenizerUnsupported,
                  "sentencepiece model '" + file + "': Winnow builds XLMRobertaTokenizer, CamembertTokenizer, "
                  "DebertaV2Tokenizer and T5Tokenizer from it, not \"" + tokenizer_class + "\"");
  WINNOW_ASSIGN_OR_RETURN(SpModel m, ParseModel(model_bytes, file));
  const json& config = files.tokenizer_config;
  const auto kind = spec->kind;
  const bool fairseq = kind == ClassSpec::kXlmRoberta || kind == ClassSpec::kCamembert;
  if (fairseq && m.unk_id != 0)
    return Status(codes::kTokenizerUnsupported, "sentencepiece model '" + file + "': " + tokenizer_class +
                                                    " expects the unknown piece at id 0 (fairseq's layout), not " +
                                                    std::to_string(m.unk_id));
  if (kind == ClassSpec::kXlmRoberta && m.pieces.size() < 3)
    return Invalid(file, tokenizer_class + " needs at least the 3 pieces <unk> <s> </s>");

  // The converted vocabulary (piece, score), the class's id layout.
  std::vector<std::pair<std::string, float>> vocab;
  vocab.reserve(m.pieces.size() + 128);
  int32_t unk_id = m.unk_id;
  size_t first = 0;
  if (kind == ClassSpec::kXlmRoberta) {
    vocab = {{"<s>", 0.f}, {"<pad>", 0.f}, {"</s>", 0.f}, {"<unk>", 0.f}};
    first = 3;
    unk_id = 3;
  } else if (kind == ClassSpec::kCamembert) {
    vocab = {{"<s>NOTUSED", 0.f}, {"<pad>", 0.f}, {"</s>NOTUSED", 0.f}, {"<unk>", 0.f}, {"<unk>NOTUSED", -100.f}};
    first = 1;
    unk_id = 3;
  }
  for (size_t i = first; i < m.pieces.size(); ++i) vocab.emplace_back(m.pieces[i].piece, m.pieces[i].score);
  if (fairseq) vocab.emplace_back("<mask>", 0.f);
  int64_t extra_ids = 0;
  if (kind == ClassSpec::kT5) {
    extra_ids = 100;
    if (config.is_object()) {
      if (auto it = config.find("extra_ids"); it != config.end() && !it->is_null()) {
        if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 100000)
          return JsonInvalid("tokenizer_config.json", "extra_ids", "is not an integer from 0 to 100000");
        extra_ids = it->get<int64_t>();
      }
    }
    for (int64_t i = extra_ids - 1; i >= 0; --i) vocab.emplace_back("<extra_id_" + std::to_string(i) + ">", 0.f);
  }
  std::unordered_map<std::string, int32_t> vocab_id;  // a repeated piece: the last id (HF's map)
  vocab_id.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) vocab_id[vocab[i].first] = static_cast<int32_t>(i);

  // Added tokens, in the order transformers adds them; a later one with the same content updates the flags.
  std::vector<Added> added;
  std::unordered_map<std::string, size_t> added_at;
  std::map<std::string, int64_t> declared;  // content -> id written in added_tokens_decoder / added_tokens.json
  auto add = [&](Added a) {
    auto [it, fresh] = added_at.emplace(a.content, added.size());
    if (fresh) added.push_back(std::move(a));
    else added[it->second] = std::move(a);
  };
  // 1. The model's control (special) and user-defined pieces, never normalized.
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const Piece& p = m.pieces[i];
    if (p.type == kControl || p.type == kUserDefined) add(Added{p.piece, p.type == kControl});
  }
  // 2. Special tokens: the class's defaults, then tokenizer_config.json, then special_tokens_map.json.
  std::optional<Added> special[7];
  for (int k = 0; k < 7; ++k) {
    if (*spec->defaults[k]) {
      special[k] = Added{spec->defaults[k]};
      // XLM-R and CamemBERT make <mask> absorb the space before it.
      if (k == 6 && fairseq) special[k]->lstrip = true;
    }
  }
  std::vector<Added> additional;
  if (kind == ClassSpec::kCamembert)
    for (const char* t : {"<s>NOTUSED", "</s>NOTUSED", "<unk>NOTUSED"}) additional.push_back(Added{t});
  if (kind == ClassSpec::kT5)
    for (int64_t i = 0; i < extra_ids; ++i) additional.push_back(Added{"<extra_id_" + std::to_string(i) + ">"});
  const std::pair<const char*, const json*> sources[] = {{"tokenizer_config.json", &config},
                                                          {"special_tokens_map.json", &files.special_tokens_map}};
  for (const auto& [name, src] : sources) {
    if (src->is_null()) continue;
    if (!src->is_object()) return JsonInvalid(name, "(top level)", "is not a JSON object");
    for (int k = 0; k < 7; ++k) {
      auto it = src->find(kSpecialKeys[k]);
      if (it == src->end()) continue;
      std::optional<Added> v;
      WINNOW_RETURN_IF_ERROR(ReadTokenValue(*it, name, kSpecialKeys[k], &v));
      if (v && k == 6 && fairseq && it->is_string()) v->lstrip = true;
      special[k] = std::move(v);
    }
    if (auto it = src->find("additional_special_tokens"); it != src->end() && !it->is_null()) {
      if (!it->is_array()) return JsonInvalid(name, "additional_special_tokens", "is not an array");
      additional.clear();
      for (size_t i = 0; i < it->size(); ++i) {
        std::optional<Added> v;
        WINNOW_RETURN_IF_ERROR(
            ReadTokenValue((*it)[i], name, "additional_special_tokens[" + std::to_string(i) + "]", &v));
        if (v) additional.push_back(std::move(*v));
      }
    }
  }
  std::vector<std::string> special_names;
  for (const auto& s : special)
    if (s) special_names.push_back(s->content);
  for (const auto& s : additional) special_names.push_back(s.content);
  auto is_special_name = [&](const std::string& c) {
    return std::find(special_names.begin(), special_names.end(), c) != special_names.end();
  };
  // 3. tokenizer_config.json's added_tokens_decoder (id -> token object), else added_tokens.json (token -> id).
  const json* decoder = nullptr;
  if (config.is_object())
    if (auto it = config.find("added_tokens_decoder"); it != config.end() && !it->is_null()) decoder = &*it;
  if (decoder) {
    if (!decoder->is_object()) return JsonInvalid("tokenizer_config.json", "added_tokens_decoder", "is not an object");
    std::vector<std::pair<int64_t, Added>> byid;
    for (auto it = decoder->begin(); it != decoder->end(); ++it) {
      const std::string path = "added_tokens_decoder[\"" + it.key() + "\"]";
      char* end = nullptr;
      errno = 0;
      const long long id = std::strtoll(it.key().c_str(), &end, 10);
      if (it.key().empty() || *end != '\0' || errno != 0 || id < 0 || id > INT32_MAX)
        return JsonInvalid("tokenizer_config.json", path, "is not keyed by a token id");
      std::optional<Added> v;
      WINNOW_RETURN_IF_ERROR(ReadTokenValue(it.value(), "tokenizer_config.json", path, &v));
      if (!v) return JsonInvalid("tokenizer_config.json", path, "is null");
      if (it.value().is_string()) v->special = is_special_name(v->content), v->normalized = !v->special;
      byid.emplace_back(id, std::move(*v));
    }
    std::stable_sort(byid.begin(), byid.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [id, a] : byid) {
      declared[a.content] = id;
      add(std::move(a));
    }
  } else if (!files.added_tokens.is_null()) {
    if (!files.added_tokens.is_object()) return JsonInvalid("added_tokens.json", "(top level)", "is not an object");
    std::vector<std::pair<int64_t, Added>> byid;
    for (auto it = files.added_tokens.begin(); it != files.added_tokens.end(); ++it) {
      const std::string path = "[\"" + it.key() + "\"]";
      if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > INT32_MAX)
        return JsonInvalid("added_tokens.json", path, "is not a token id");
      if (it.key().empty() || !ValidUtf8(it.key())) return JsonInvalid("added_tokens.json", path, "is not a token");
      Added a{it.key()};
      a.special = is_special_name(a.content);
      a.normalized = !a.special;
      byid.emplace_back(it.value().get<int64_t>(), std::move(a));
    }
    std::stable_sort(byid.begin(), byid.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [id, a] : byid) {
      declared[a.content] = id;
      add(std::move(a));
    }
  }
  // 4. The special tokens not added yet (transformers' all_special_tokens_extended), special and not normalized.
  std::vector<Added> specials;
  for (auto& s : special)
    if (s) specials.push_back(*s);
  for (auto& s : additional) specials.push_back(s);
  for (Added& s : specials) {
    if (added_at.count(s.content)) continue;
    s.special = true;
    add(std::move(s));
  }
  // Ids: a token of the vocabulary keeps its id, the others follow the vocabulary in the order added.
  int32_t next_id = static_cast<int32_t>(vocab.size());
  std::vector<std::pair<int32_t, const Added*>> added_ids;
  std::unordered_map<std::string, int32_t> added_id;
  for (const Added& a : added) {
    if (!ValidUtf8(a.content)) return JsonInvalid("tokenizer files", "a special token", "is not valid UTF-8");
    auto it = vocab_id.find(a.content);
    const int32_t id = it != vocab_id.end() ? it->second : next_id++;
    added_ids.emplace_back(id, &a);
    added_id[a.content] = id;
    if (auto d = declared.find(a.content); d != declared.end() && d->second != id)
      return Status(codes::kTokenizerInvalid,
                    (decoder ? std::string("tokenizer_config.json: added_tokens_decoder") : std::string("added_tokens.json")) +
                        " gives \"" + a.content + "\" the id " + std::to_string(d->second) + ", but with '" + file +
                        "' it gets " + std::to_string(id));
  }
  std::stable_sort(added_ids.begin(), added_ids.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

  json doc = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}};
  json added_json = json::array();
  for (const auto& [id, a] : added_ids)
    added_json.push_back({{"id", id}, {"content", a->content}, {"single_word", a->single_word}, {"lstrip", a->lstrip},
                          {"rstrip", a->rstrip}, {"normalized", a->normalized}, {"special", a->special}});
  doc["added_tokens"] = std::move(added_json);

  // Normalizer.
  json norms = json::array();
  const json precompiled = {{"type", "Precompiled"}, {"precompiled_charsmap", Base64(m.charsmap)}};
  if (kind == ClassSpec::kDebertaV2) {
    bool lower;
    WINNOW_RETURN_IF_ERROR(ConfigBool(config, "do_lower_case", false, &lower));
    if (lower) norms.push_back({{"type", "Lowercase"}});
    norms.push_back({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}});
    if (!m.charsmap.empty()) norms.push_back(precompiled);
    norms.push_back({{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}});
  } else {
    if (!m.charsmap.empty()) norms.push_back(precompiled);
    norms.push_back({{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}});
    norms.push_back({{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", kMeta}});
  }
  doc["normalizer"] = {{"type", "Sequence"}, {"normalizers", std::move(norms)}};

  // Pre-tokenizer and decoder: Metaspace; T5 reads add_prefix_space and legacy (legacy: false -> "first").
  std::string scheme = "always";
  if (kind == ClassSpec::kT5) {
    bool add_prefix_space, legacy;
    WINNOW_RETURN_IF_ERROR(ConfigBool(config, "add_prefix_space", true, &add_prefix_space));
    WINNOW_RETURN_IF_ERROR(ConfigBool(config, "legacy", true, &legacy));
    scheme = !add_prefix_space ? "never" : legacy ? "always" : "first";
  }
  if (kind == ClassSpec::kDebertaV2) {
    bool split_by_punct;
    WINNOW_RETURN_IF_ERROR(ConfigBool(config, "split_by_punct", false, &split_by_punct));
    json pre = json::array();
    if (split_by_punct) pre.push_back({{"type", "Punctuation"}, {"behavior", "Isolated"}});
    pre.push_back(Metaspace(scheme));
    doc["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", std::move(pre)}};
  } else {
    doc["pre_tokenizer"] = Metaspace(scheme);
  }
  // Byte pieces become text again before Metaspace's ▁ -> space.
  if (m.byte_fallback)
    doc["decoder"] = {{"type", "Sequence"}, {"decoders", json::array({{{"type", "ByteFallback"}}, Metaspace(scheme)})}};
  else
    doc["decoder"] = Metaspace(scheme);

  // Post-processor: the class's template, its special tokens by their literal names.
  auto token_id = [&](const std::string& t) -> std::optional<int32_t> {
    if (auto it = added_id.find(t); it != added_id.end()) return it->second;
    if (auto it = vocab_id.find(t); it != vocab_id.end()) return it->second;
    return std::nullopt;
  };
  std::vector<std::pair<std::string, int>> single, pair;
  std::vector<std::string> template_tokens;
  if (fairseq) {
    single = {{"<s>", 0}, {"A", 0}, {"</s>", 0}};
    pair = {{"<s>", 0}, {"A", 0}, {"</s>", 0}, {"</s>", 0}, {"B", 0}, {"</s>", 0}};
    template_tokens = {"<s>", "</s>"};
  } else if (kind == ClassSpec::kDebertaV2) {
    single = {{"[CLS]", 0}, {"A", 0}, {"[SEP]", 0}};
    pair = {{"[CLS]", 0}, {"A", 0}, {"[SEP]", 0}, {"B", 1}, {"[SEP]", 1}};
    template_tokens = {"[CLS]", "[SEP]"};
  } else {
    single = {{"A", 0}, {"</s>", 0}};
    pair = {{"A", 0}, {"</s>", 0}, {"B", 0}, {"</s>", 0}};
    template_tokens = {"</s>"};
  }
  json st = json::object();
  for (const std::string& t : template_tokens) {
    const std::optional<int32_t> id = token_id(t);
    if (!id)
      return Invalid(file, tokenizer_class + " adds \"" + t + "\" around each text, and the model has no such piece");
    st[t] = {{"id", t}, {"ids", json::array({*id})}, {"tokens", json::array({t})}};
  }
  doc["post_processor"] = {
      {"type", "TemplateProcessing"}, {"single", Template(single)}, {"pair", Template(pair)}, {"special_tokens", st}};

  // Model.
  if (m.model_type == kUnigram) {
    json v = json::array();
    for (const auto& [piece, score] : vocab) v.push_back(json::array({piece, static_cast<double>(score)}));
    doc["model"] = {{"type", "Unigram"}, {"unk_id", unk_id}, {"vocab", std::move(v)}, {"byte_fallback", m.byte_fallback}};
  } else {
    if (!vocab_id.count(m.unk_piece))
      return Invalid(file, "trainer_spec.unk_piece \"" + m.unk_piece + "\" is not a piece of the model");
    json v = json::object();
    for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i].first] = static_cast<int32_t>(i);
    doc["model"] = {{"type", "BPE"},
                    {"dropout", nullptr},
                    {"unk_token", m.unk_piece},
                    {"continuing_subword_prefix", nullptr},
                    {"end_of_word_suffix", nullptr},
                    {"fuse_unk", true},
                    {"byte_fallback", m.byte_fallback},
                    {"ignore_merges", false},
                    {"vocab", std::move(v)},
                    {"merges", BpeMerges(vocab, m)}};
  }
  return doc;
}

StatusOr<json> SentencePieceFolderToTokenizerJson(const std::string& dir, const std::string& model_path,
                                                  const std::string& tokenizer_class,
                                                  const json& tokenizer_config) {
  std::string bytes;
  bool exists;
  WINNOW_RETURN_IF_ERROR(ReadSmallFile(model_path, kMaxSentencePieceModelBytes, &exists, &bytes, "sentencepiece model"));
  if (!exists) return Status(codes::kIo, "cannot open sentencepiece model '" + model_path + "': no such file");
  SentencePieceFolderFiles files;
  files.tokenizer_config = tokenizer_config;
  WINNOW_ASSIGN_OR_RETURN(files.special_tokens_map, ReadFolderJson(dir, "special_tokens_map.json"));
  WINNOW_ASSIGN_OR_RETURN(files.added_tokens, ReadFolderJson(dir, "added_tokens.json"));
  return SentencePieceToTokenizerJson(bytes, model_path, tokenizer_class, files);
}

StatusOr<std::unique_ptr<Tokenizer>> FromSentencePiece(const std::string& dir, const std::string& model_path,
                                                       const std::string& tokenizer_class,
                                                       const json& tokenizer_config) {
  WINNOW_ASSIGN_OR_RETURN(json doc, SentencePieceFolderToTokenizerJson(dir, model_path, tokenizer_class, tokenizer_config));
  std::string text;
  try {
    text = doc.dump();
  } catch (const json::exception& e) {  // every string in it was checked to be UTF-8
    return Status(codes::kInternal, "tokenizer built from '" + model_path + "': " + e.what());
  }
  auto tok = Tokenizer::FromJson(text);
  if (!tok.ok())  // the document is Winnow's own: a failure here names the model it came from
    return Status(tok.status().code(), "tokenizer built from '" + model_path + "': " + tok.status().message());
  return tok;
}

}  // namespace winnow::tok::slow
