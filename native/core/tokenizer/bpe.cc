// Byte-Pair Encoding model, bit-exact with Hugging Face `tokenizers` (models/bpe).
//
// Behaviour reproduced from the Rust implementation:
//  * A piece is split into characters; every character except the first gets
//    `continuing_subword_prefix`, the last gets `end_of_word_suffix`; each is looked up in the vocab.
//    Characters not in the vocab go to byte fallback (`<0xXX>` for every byte of the prefixed/suffixed
//    string, only if all exist), else to `unk_token` (consecutive ones fused when `fuse_unk`), else
//    are dropped when there is no unk_token.
//  * Merges are applied by `Word::merge_all`: a min-heap over (rank, position) of adjacent pairs.
//    An entry popped from the heap is applied if the pair now at its position maps to the same
//    *new id* (not necessarily the same rank) — stale-entry semantics are reproduced exactly.
//  * `ignore_merges`: a piece that is itself in the vocab becomes a single token.
//  * Duplicate merges: the last occurrence wins (HashMap collect semantics).
//  * `dropout` > 0 makes HF encoding random, so such files are rejected (TOKENIZER_UNSUPPORTED).
//
// Offsets are byte offsets inside the piece. One deliberate deviation: with byte_fallback *and* a
// continuing_subword_prefix/end_of_word_suffix, HF counts the bytes of the affixes into the offsets
// (running past the piece); we clamp offsets to the piece length.
#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/model.h"
#include "tokenizer/model_hash.h"

namespace winnow::tok {
namespace {

using internal::FindId;
using internal::StringIdMap;
using internal::U64Map;

struct MergeInfo {
  uint32_t rank = 0;
  int32_t new_id = -1;
};

struct Symbol {
  int32_t c;
  int32_t prev;
  int32_t next;
  uint32_t len;  // bytes; 0 = merged away
};

struct HeapEntry {
  uint32_t rank;
  uint32_t pos;
  int32_t new_id;
};
// std heap is a max-heap: "less" means lower priority, i.e. larger (rank, pos).
struct HeapLess {
  bool operator()(const HeapEntry& a, const HeapEntry& b) const {
    if (a.rank != b.rank) return a.rank > b.rank;
    return a.pos > b.pos;
  }
};

// Piece -> tokens cache: ~131k pieces of at most 128 bytes.
using TokenCache = internal::PieceCache<2048, 128>;

class BpeModel final : public Model {
 public:
  StringIdMap vocab;
  std::vector<std::string_view> dense_r;               // id -> token when ids are dense
  std::unordered_map<int32_t, std::string_view> sparse_r;  // otherwise
  bool dense = true;
  U64Map<MergeInfo> merges;
  std::optional<std::string> unk_token;
  std::optional<int32_t> unk_id;  // id of unk_token when it is in the vocab
  std::string prefix, suffix;
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
  std::array<int32_t, 256> byte_ids{};  // id of <0xXX>, -1 if absent
  bool use_cache = true;
  TokenCache cache;

  Status Tokenize(std::string_view piece, std::vector<Token>* out) const override {
    if (piece.empty()) return Status::Ok();
    if (ignore_merges) {
      if (const int32_t* id = FindId(vocab, piece)) {
        out->push_back(Token{*id, 0, static_cast<uint32_t>(piece.size())});
        return Status::Ok();
      }
    }
    const bool cacheable = use_cache && piece.size() <= TokenCache::kMaxKeyLen;
    uint64_t h = 0;
    if (cacheable) {
      h = internal::HashBytes(piece);
      if (cache.Get(piece, h, out)) return Status::Ok();
    }
    const size_t first = out->size();
    WINNOW_RETURN_IF_ERROR(MergeWord(piece, out));
    if (cacheable) cache.Put(piece, h, out->data() + first, out->data() + out->size());
    return Status::Ok();
  }

  std::optional<int32_t> TokenToId(std::string_view token) const override {
    if (const int32_t* id = FindId(vocab, token)) return *id;
    return std::nullopt;
  }
  std::optional<std::string_view> IdToToken(int32_t id) const override {
    if (dense) {
      if (id < 0 || static_cast<size_t>(id) >= dense_r.size() || dense_r[id].data() == nullptr) return std::nullopt;
      return dense_r[id];
    }
    auto it = sparse_r.find(id);
    if (it == sparse_r.end()) return std::nullopt;
    return it->second;
  }
  size_t VocabSize() const override { return vocab.size(); }
  std::optional<int32_t> UnkId() const override { return unk_id; }

 private:
  Status MergeWord(std::string_view w, std::vector<Token>* out) const {
    std::vector<Symbol>& syms = SymbolsRef();
    thread_local std::string buf;
    syms.clear();

    auto add = [&](int32_t c, uint32_t len) {
      int32_t n = static_cast<int32_t>(syms.size());
      if (n > 0) syms.back().next = n;
      syms.push_back(Symbol{c, n - 1, -1, len});
    };

    bool have_unk = false;
    int32_t pending_unk_id = 0;
    uint32_t pending_unk_len = 0;
    const bool affixes = !prefix.empty() || !suffix.empty();

    size_t i = 0;
    while (i < w.size()) {
      size_t clen = std::min(internal::Utf8Len(static_cast<unsigned char>(w[i])), w.size() - i);
      const bool is_first = i == 0;
      const bool is_last = i + clen == w.size();
      std::string_view s = w.substr(i, clen);
      if (affixes && ((!is_first && !prefix.empty()) || (is_last && !suffix.empty()))) {
        buf.clear();
        if (!is_first) buf += prefix;
        buf.append(s);
        if (is_last) buf += suffix;
        s = buf;
      }
      const uint32_t byte_len = static_cast<uint32_t>(clen);
      i += clen;

      if (const int32_t* id = FindId(vocab, s)) {
        if (have_unk) {
          add(pending_unk_id, pending_unk_len);
          have_unk = false;
        }
        add(*id, byte_len);
        continue;
      }
      if (byte_fallback) {
        bool all = true;
        for (unsigned char b : s) {
          if (byte_ids[b] < 0) {
            all = false;
            break;
          }
        }
        if (all) {
          // As in HF: pending unk is *not* flushed before the byte tokens.
          for (unsigned char b : s) add(byte_ids[b], 1);
          continue;
        }
      }
      if (unk_token) {
        if (!unk_id) {
          return Status(codes::kTokenizerInvalid,
                        "model.unk_token: \"" + *unk_token + "\" is not in the vocabulary");
        }
        if (have_unk && fuse_unk) {
          pending_unk_len += byte_len;
        } else {
          if (have_unk) add(pending_unk_id, pending_unk_len);
          have_unk = true;
          pending_unk_id = *unk_id;
          pending_unk_len = byte_len;
        }
      }
    }
    if (have_unk) add(pending_unk_id, pending_unk_len);

    MergeAll();

    uint32_t offset = 0;
    const uint32_t limit = static_cast<uint32_t>(w.size());
    for (const Symbol& sym : syms) {
      if (sym.len == 0) continue;
      uint32_t start = std::min(offset, limit);
      offset += sym.len;
      out->push_back(Token{sym.c, start, std::min(offset, limit)});
    }
    return Status::Ok();
  }

  static uint64_t Key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  void MergeAll() const {
    thread_local std::vector<HeapEntry> heap;
    heap.clear();
    std::vector<Symbol>& s = SymbolsRef();
    if (s.size() < 2) return;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      if (const MergeInfo* m = merges.Find(Key(s[i].c, s[i + 1].c)))
        heap.push_back(HeapEntry{m->rank, static_cast<uint32_t>(i), m->new_id});
    }
    std::make_heap(heap.begin(), heap.end(), HeapLess{});
    const int32_t n = static_cast<int32_t>(s.size());
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), HeapLess{});
      HeapEntry top = heap.back();
      heap.pop_back();
      Symbol& cur = s[top.pos];
      if (cur.len == 0 || cur.next == -1) continue;
      const int32_t next_pos = cur.next;
      const Symbol right = s[next_pos];
      const MergeInfo* m = merges.Find(Key(cur.c, right.c));
      if (m == nullptr || m->new_id != top.new_id) continue;  // stale entry
      // Merge.
      cur.c = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      s[next_pos].len = 0;
      if (right.next > -1 && right.next < n) s[right.next].prev = static_cast<int32_t>(top.pos);
      if (cur.prev >= 0) {
        if (const MergeInfo* pm = merges.Find(Key(s[cur.prev].c, cur.c))) {
          heap.push_back(HeapEntry{pm->rank, static_cast<uint32_t>(cur.prev), pm->new_id});
          std::push_heap(heap.begin(), heap.end(), HeapLess{});
        }
      }
      if (cur.next > -1 && cur.next < n) {
        if (const MergeInfo* nm = merges.Find(Key(cur.c, s[cur.next].c))) {
          heap.push_back(HeapEntry{nm->rank, top.pos, nm->new_id});
          std::push_heap(heap.begin(), heap.end(), HeapLess{});
        }
      }
    }
  }

  // MergeWord and MergeAll share the thread-local symbol buffer.
  static std::vector<Symbol>& SymbolsRef();
};

thread_local std::vector<Symbol> g_symbols;
std::vector<Symbol>& BpeModel::SymbolsRef() { return g_symbols; }

std::string Quote(const std::string& s) { return nlohmann::json(s).dump(); }

StatusOr<std::optional<std::string>> OptString(const nlohmann::json& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return InvalidAt(path + "." + key, "expected a string or null");
  return std::optional<std::string>(it->get<std::string>());
}

StatusOr<bool> OptBool(const nlohmann::json& j, const char* key, const std::string& path, bool def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_boolean()) return InvalidAt(path + "." + key, "expected a boolean");
  return it->get<bool>();
}

}  // namespace

StatusOr<std::unique_ptr<Model>> LoadBpe(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) return InvalidAt(path, "expected an object");
  auto m = std::make_unique<BpeModel>();

  if (auto it = j.find("type"); it != j.end() && !(it->is_string() && it->get<std::string>() == "BPE"))
    return InvalidAt(path + ".type", "expected \"BPE\"");

  // dropout: null or 0 only (HF applies a non-zero dropout at encode time, which is random).
  if (auto it = j.find("dropout"); it != j.end() && !it->is_null()) {
    if (!it->is_number()) return InvalidAt(path + ".dropout", "expected a number or null");
    double d = it->get<double>();
    if (d < 0.0 || d > 1.0) return InvalidAt(path + ".dropout", "must be between 0 and 1");
    if (d != 0.0) return UnsupportedAt(path + ".dropout", it->dump() + " (BPE dropout makes encoding random)");
  }

  WINNOW_ASSIGN_OR_RETURN(m->unk_token, OptString(j, "unk_token", path));
  WINNOW_ASSIGN_OR_RETURN(auto prefix, OptString(j, "continuing_subword_prefix", path));
  WINNOW_ASSIGN_OR_RETURN(auto suffix, OptString(j, "end_of_word_suffix", path));
  m->prefix = prefix.value_or("");
  m->suffix = suffix.value_or("");
  WINNOW_ASSIGN_OR_RETURN(m->fuse_unk, OptBool(j, "fuse_unk", path, false));
  WINNOW_ASSIGN_OR_RETURN(m->byte_fallback, OptBool(j, "byte_fallback", path, false));
  WINNOW_ASSIGN_OR_RETURN(m->ignore_merges, OptBool(j, "ignore_merges", path, false));

  // vocab
  auto vit = j.find("vocab");
  if (vit == j.end()) return InvalidAt(path + ".vocab", "missing");
  if (!vit->is_object()) return InvalidAt(path + ".vocab", "expected an object of token -> id");
  m->vocab.reserve(vit->size());
  int64_t max_id = -1;
  for (auto it = vit->begin(); it != vit->end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > INT32_MAX)
      return InvalidAt(path + ".vocab[" + Quote(it.key()) + "]", "expected a non-negative integer id");
    int32_t id = static_cast<int32_t>(it.value().get<int64_t>());
    m->vocab[it.key()] = id;
    max_id = std::max<int64_t>(max_id, id);
  }
  m->dense = max_id < static_cast<int64_t>(2 * m->vocab.size() + 1024);
  if (m->dense) m->dense_r.assign(static_cast<size_t>(max_id + 1), std::string_view());
  for (const auto& [tok, id] : m->vocab) {
    // HF builds vocab_r by iterating a HashMap; with duplicate ids the survivor is unspecified.
    if (m->dense) m->dense_r[id] = tok;
    else m->sparse_r[id] = tok;
  }
  if (m->unk_token) {
    if (const int32_t* id = FindId(m->vocab, *m->unk_token)) m->unk_id = *id;
  }
  for (int b = 0; b < 256; ++b) {
    const int32_t* id = FindId(m->vocab, internal::ByteToken(static_cast<unsigned char>(b)));
    m->byte_ids[b] = id ? *id : -1;
  }

  // merges
  auto mit = j.find("merges");
  if (mit != j.end() && !mit->is_null()) {
    if (!mit->is_array()) return InvalidAt(path + ".merges", "expected an array");
    m->merges.Reserve(mit->size());
    const size_t prefix_len = m->prefix.size();
    uint32_t rank = 0;
    // HF's MergeType is an untagged enum: either all "a b" strings or all ["a", "b"] pairs.
    const bool legacy = !mit->empty() && (*mit)[0].is_string();
    for (const auto& e : *mit) {
      const std::string mpath = path + ".merges[" + std::to_string(rank) + "]";
      std::string a, b;
      if (e.is_string() != legacy) {
        return InvalidAt(mpath, legacy ? "expected \"a b\" like the first merge" : "expected [\"a\", \"b\"] like the first merge");
      } else if (e.is_string()) {
        const std::string& line = e.get_ref<const std::string&>();
        // HF splits on every space and wants exactly two parts.
        size_t sp = line.find(' ');
        if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
          return InvalidAt(mpath, "expected \"a b\" (exactly one space) or [\"a\", \"b\"]");
        a = line.substr(0, sp);
        b = line.substr(sp + 1);
      } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
        a = e[0].get<std::string>();
        b = e[1].get<std::string>();
      } else {
        return InvalidAt(mpath, "expected \"a b\" or [\"a\", \"b\"]");
      }
      const int32_t* a_id = FindId(m->vocab, a);
      if (!a_id) return InvalidAt(mpath, "token " + Quote(a) + " is not in the vocabulary");
      const int32_t* b_id = FindId(m->vocab, b);
      if (!b_id) return InvalidAt(mpath, "token " + Quote(b) + " is not in the vocabulary");
      // HF strips prefix_len bytes from the right-hand token (when a prefix is configured).
      if (b.size() < prefix_len || (prefix_len < b.size() && (static_cast<unsigned char>(b[prefix_len]) & 0xC0) == 0x80))
        return InvalidAt(mpath, "token " + Quote(b) + " does not carry the continuing_subword_prefix");
      std::string merged = a + b.substr(prefix_len);
      const int32_t* new_id = FindId(m->vocab, merged);
      if (!new_id) return InvalidAt(mpath, "merged token " + Quote(merged) + " is not in the vocabulary");
      uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(*a_id)) << 32) | static_cast<uint32_t>(*b_id);
      m->merges.InsertOrAssign(key, MergeInfo{rank, *new_id});
      ++rank;
    }
  }
  return std::unique_ptr<Model>(std::move(m));
}

// Test hook: disable the piece cache (used by benchmarks / tests to exercise the merge path).
void SetBpeCacheEnabledForTesting(Model* model, bool enabled) {
  if (auto* b = dynamic_cast<BpeModel*>(model)) b->use_cache = enabled;
}

}  // namespace winnow::tok
