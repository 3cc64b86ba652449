// Unigram (SentencePiece-style) model, bit-exact with Hugging Face `tokenizers` (models/unigram),
// i.e. `Unigram::encode_optimized` followed by `Model::tokenize`:
//  * Viterbi over byte positions; candidates come from a common-prefix search of the vocab from every
//    character start. A node keeps the first candidate unless a later one scores strictly higher
//    (candidates arrive by increasing start position, so ties keep the earliest start).
//  * A character with no single-character token gets an unknown candidate scored
//    `min_score - 10.0`; taking it without an unk_id is an error (as in HF).
//  * On the best path, consecutive nodes whose id is unk_id are fused (fuse_unk is always on in HF).
//  * Each resulting string is looked up in the vocab; strings not found become `<0xXX>` tokens when
//    byte_fallback is on and all of them exist (each spanning the whole string), else unk_id.
//  * Duplicate pieces: the last id wins for lookups (HashMap insert semantics).
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <limits>
#include <string>
#include <vector>

#include "tokenizer/model.h"
#include "tokenizer/model_hash.h"

namespace winnow::tok {
namespace {

using internal::FindId;
using internal::StringIdMap;

constexpr double kUnkPenalty = 10.0;

// Byte trie: root transitions are a dense table, deeper ones live in one open-addressing map.
class ByteTrie {
 public:
  ByteTrie() {
    root_.fill(-1);
    term_.push_back(-1);
  }
  void Insert(std::string_view key, int32_t value) {
    if (key.empty()) return;  // an empty piece can never be matched
    int32_t node = 0;
    for (size_t i = 0; i < key.size(); ++i) {
      unsigned char b = static_cast<unsigned char>(key[i]);
      int32_t child;
      if (node == 0) {
        child = root_[b];
        if (child < 0) child = root_[b] = NewNode();
      } else {
        const int32_t* c = edges_.Find(EdgeKey(node, b));
        if (c) {
          child = *c;
        } else {
          child = NewNode();
          edges_.InsertOrAssign(EdgeKey(node, b), child);
        }
      }
      node = child;
    }
    term_[node] = value;
  }
  // Calls f(length, value) for every key that is a prefix of s, shortest first.
  template <class F>
  void CommonPrefixSearch(std::string_view s, F&& f) const {
    if (s.empty()) return;
    int32_t node = root_[static_cast<unsigned char>(s[0])];
    size_t i = 1;
    while (node >= 0) {
      if (term_[node] >= 0) f(i, term_[node]);
      if (i == s.size()) break;
      const int32_t* c = edges_.Find(EdgeKey(node, static_cast<unsigned char>(s[i])));
      if (!c) break;
      node = *c;
      ++i;
    }
  }

 private:
  static uint64_t EdgeKey(int32_t node, unsigned char b) { return (static_cast<uint64_t>(node) << 8) | b; }
  int32_t NewNode() {
    term_.push_back(-1);
    return static_cast<int32_t>(term_.size() - 1);
  }
  std::array<int32_t, 256> root_;
  internal::U64Map<int32_t> edges_;
  std::vector<int32_t> term_;
};

// Piece -> tokens cache (as HF's Unigram cache: the Viterbi result depends only on the piece):
// ~65k pieces of at most 64 bytes.
using PieceCache = internal::PieceCache<1024, 64>;

struct BestNode {
  int32_t id;
  int32_t starts_at;  // -1: not reached yet
  double score;
};

class UnigramModel final : public Model {
 public:
  std::vector<std::string> pieces;
  std::vector<double> scores;
  StringIdMap token_to_id;
  ByteTrie trie;
  std::optional<int32_t> unk_id;
  bool byte_fallback = false;
  double min_score = std::numeric_limits<double>::infinity();
  std::array<int32_t, 256> byte_ids{};

  PieceCache cache;

  Status Tokenize(std::string_view s, std::vector<Token>* out) const override {
    if (s.empty()) return Status::Ok();
    const bool cacheable = s.size() <= PieceCache::kMaxKeyLen;
    if (!cacheable) return TokenizeUncached(s, out);
    const uint64_t h = internal::HashBytes(s);
    if (cache.Get(s, h, out)) return Status::Ok();
    const size_t first = out->size();
    WINNOW_RETURN_IF_ERROR(TokenizeUncached(s, out));
    cache.Put(s, h, out->data() + first, out->data() + out->size());
    return Status::Ok();
  }

  Status TokenizeUncached(std::string_view s, std::vector<Token>* out) const {
    const size_t size = s.size();
    const double unk_score = min_score - kUnkPenalty;
    thread_local std::vector<BestNode> best;
    best.assign(size + 1, BestNode{0, -1, 0.0});

    size_t starts_at = 0;
    while (starts_at < size) {
      const double till_here = best[starts_at].score;
      const size_t mblen = std::min(internal::Utf8Len(static_cast<unsigned char>(s[starts_at])), size - starts_at);
      bool has_single_node = false;
      trie.CommonPrefixSearch(s.substr(starts_at), [&](size_t len, int32_t id) {
        BestNode& target = best[starts_at + len];
        const double cand = scores[id] + till_here;
        if (target.starts_at < 0 || cand > target.score) {
          target.score = cand;
          target.starts_at = static_cast<int32_t>(starts_at);
          target.id = id;
        }
        if (len == mblen) has_single_node = true;
      });
      if (!has_single_node) {
        BestNode& target = best[starts_at + mblen];
        const double cand = unk_score + till_here;
        if (target.starts_at < 0 || cand > target.score) {
          if (!unk_id) {
            return Status(codes::kTokenizerInvalid,
                          "model.unk_id: the text has a character missing from the vocabulary but the model has no unk_id");
          }
          target.score = cand;
          target.starts_at = static_cast<int32_t>(starts_at);
          target.id = *unk_id;
        }
      }
      starts_at += mblen;
    }

    // Backtrack: collect [start, end, id] spans (reversed), fusing runs of unk_id.
    thread_local std::vector<BestNode> path;  // reuse: id, starts_at = start, score unused; end in next
    thread_local std::vector<uint32_t> ends;
    path.clear();
    ends.clear();
    size_t ends_at = size;
    bool in_unk = false;
    while (ends_at > 0) {
      const BestNode& node = best[ends_at];
      const size_t st = static_cast<size_t>(node.starts_at);
      const bool is_unk = unk_id && node.id == *unk_id;
      if (is_unk && in_unk) {
        path.back().starts_at = static_cast<int32_t>(st);  // extend the fused run leftwards
      } else {
        path.push_back(BestNode{is_unk ? -2 : node.id, static_cast<int32_t>(st), 0.0});
        ends.push_back(static_cast<uint32_t>(ends_at));
      }
      in_unk = is_unk;
      ends_at = st;
    }

    for (size_t k = path.size(); k-- > 0;) {
      const uint32_t start = static_cast<uint32_t>(path[k].starts_at);
      const uint32_t end = ends[k];
      int32_t id = path[k].id;
      if (id == -2) {
        // A run of unknowns (or of the literal unk piece): resolved by string lookup like HF.
        std::string_view str = s.substr(start, end - start);
        if (const int32_t* found = FindId(token_to_id, str)) {
          id = *found;
        } else {
          if (byte_fallback) {
            bool all = true;
            for (unsigned char b : str) {
              if (byte_ids[b] < 0) {
                all = false;
                break;
              }
            }
            if (all) {
              for (unsigned char b : str) out->push_back(Token{byte_ids[b], start, end});
              continue;
            }
          }
          id = *unk_id;
        }
      }
      // Non-unk nodes always come from the vocab, so a string lookup would yield their own id.
      out->push_back(Token{id, start, end});
    }
    return Status::Ok();
  }

  std::optional<int32_t> TokenToId(std::string_view token) const override {
    if (const int32_t* id = FindId(token_to_id, token)) return *id;
    return std::nullopt;
  }
  std::optional<std::string_view> IdToToken(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= pieces.size()) return std::nullopt;
    return pieces[id];
  }
  size_t VocabSize() const override { return pieces.size(); }
  std::optional<int32_t> UnkId() const override { return unk_id; }
};

}  // namespace

namespace {

// The Rust library reads tokenizer.json with serde_json's default (not correctly rounded) float
// parser: the decimal significand as a u64 (digits past u64 ignored), converted to f64, then one
// multiplication / division by a power of ten. Long significands (17 digits) thus round twice and
// can land one ulp away from strtod's value, which changes Viterbi tie-breaks. The files hold the
// shortest round-trip representation, so we regenerate it from the double and parse it that way.
double SerdeJsonF64(double v) {
  if (!std::isfinite(v) || v == 0.0) return v;
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  if (r.ec != std::errc()) return v;
  const char* p = buf;
  const char* end = r.ptr;
  bool positive = true;
  if (p < end && *p == '-') {
    positive = false;
    ++p;
  }
  uint64_t sig = 0;
  int32_t exponent = 0;
  bool overflow = false, frac = false;
  for (; p < end && *p != 'e' && *p != 'E'; ++p) {
    if (*p == '.') {
      frac = true;
      continue;
    }
    const uint64_t d = static_cast<uint64_t>(*p - '0');
    if (!overflow && sig <= (std::numeric_limits<uint64_t>::max() - d) / 10) {
      sig = sig * 10 + d;
      if (frac) --exponent;
    } else {
      overflow = true;  // serde ignores further digits (integer digits still scale)
      if (!frac) ++exponent;
    }
  }
  if (p < end) exponent += std::atoi(p + 1);
  static const auto kPow10 = [] {
    std::array<double, 309> t{};
    for (int i = 0; i < 309; ++i) t[i] = std::strtod(("1e" + std::to_string(i)).c_str(), nullptr);  // as Rust's literals
    return t;
  }();
  double f = static_cast<double>(sig);
  while (true) {
    const int32_t a = exponent < 0 ? -exponent : exponent;
    if (a < 309) {
      if (exponent >= 0) f *= kPow10[a];
      else f /= kPow10[a];
      break;
    }
    if (f == 0.0 || exponent >= 0) break;
    f /= 1e308;
    exponent += 308;
  }
  return positive ? f : -f;
}

}  // namespace

StatusOr<std::unique_ptr<Model>> LoadUnigram(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) return InvalidAt(path, "expected an object");
  if (auto it = j.find("type"); it != j.end() && !(it->is_string() && it->get<std::string>() == "Unigram"))
    return InvalidAt(path + ".type", "expected \"Unigram\"");
  auto m = std::make_unique<UnigramModel>();

  auto vit = j.find("vocab");
  if (vit == j.end()) return InvalidAt(path + ".vocab", "missing");
  if (!vit->is_array()) return InvalidAt(path + ".vocab", "expected an array of [piece, score]");
  if (vit->size() > static_cast<size_t>(INT32_MAX)) return InvalidAt(path + ".vocab", "too large");
  m->pieces.reserve(vit->size());
  m->scores.reserve(vit->size());
  m->token_to_id.reserve(vit->size());
  for (size_t i = 0; i < vit->size(); ++i) {
    const auto& e = (*vit)[i];
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
      return InvalidAt(path + ".vocab[" + std::to_string(i) + "]", "expected [piece, score]");
    m->pieces.push_back(e[0].get<std::string>());
    double score = e[1].is_number_float() ? SerdeJsonF64(e[1].get<double>()) : e[1].get<double>();
    m->scores.push_back(score);
    if (score < m->min_score) m->min_score = score;
    m->token_to_id[m->pieces.back()] = static_cast<int32_t>(i);  // last duplicate wins
  }
  for (const auto& [piece, id] : m->token_to_id) m->trie.Insert(piece, id);

  if (auto it = j.find("unk_id"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0)
      return InvalidAt(path + ".unk_id", "expected a non-negative integer or null");
    if (m->pieces.empty()) return InvalidAt(path + ".unk_id", "set but the vocabulary is empty");
    if (it->get<int64_t>() >= static_cast<int64_t>(m->pieces.size()))
      return InvalidAt(path + ".unk_id", "is not an index of the vocabulary");
    m->unk_id = static_cast<int32_t>(it->get<int64_t>());
  }
  if (auto it = j.find("byte_fallback"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return InvalidAt(path + ".byte_fallback", "expected a boolean");
    m->byte_fallback = it->get<bool>();
  }
  for (int b = 0; b < 256; ++b) {
    const int32_t* id = FindId(m->token_to_id, internal::ByteToken(static_cast<unsigned char>(b)));
    m->byte_ids[b] = id ? *id : -1;
  }
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace winnow::tok
