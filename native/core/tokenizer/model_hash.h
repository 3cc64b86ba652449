// Small hashing helpers shared by the BPE and Unigram models (internal to the tokenizer directory).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <mutex>
#include <vector>

#include "tokenizer/model.h"

namespace winnow::tok::internal {

// FNV-1a is weak; use a fast 64-bit mix over 8-byte words instead.
inline uint64_t HashBytes(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xff51afd7ed558ccdull);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    __builtin_memcpy(&w, p, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  __builtin_memcpy(&w, p, n);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 29;
  return h;
}

inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return HashBytes(s); }
  size_t operator()(const std::string& s) const { return HashBytes(s); }
  size_t operator()(const char* s) const { return HashBytes(s); }
};

// String -> id with heterogeneous (string_view) lookup.
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

inline const int32_t* FindId(const StringIdMap& m, std::string_view key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

// Open-addressing map from a non-max uint64 key to V (insert-or-assign, find). Never erases.
template <class V>
class U64Map {
 public:
  static constexpr uint64_t kEmpty = ~0ull;

  void Reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    Rehash(cap);
  }

  void InsertOrAssign(uint64_t key, const V& v) {
    if ((size_ + 1) * 2 > keys_.size()) Rehash(keys_.empty() ? 16 : keys_.size() * 2);
    size_t mask = keys_.size() - 1;
    size_t i = Mix64(key) & mask;
    while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask;
    if (keys_[i] == kEmpty) {
      keys_[i] = key;
      ++size_;
    }
    vals_[i] = v;
  }

  const V* Find(uint64_t key) const {
    if (keys_.empty()) return nullptr;
    size_t mask = keys_.size() - 1;
    size_t i = Mix64(key) & mask;
    while (true) {
      uint64_t k = keys_[i];
      if (k == key) return &vals_[i];
      if (k == kEmpty) return nullptr;
      i = (i + 1) & mask;
    }
  }

  size_t size() const { return size_; }

 private:
  void Rehash(size_t cap) {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<V> old_vals = std::move(vals_);
    keys_.assign(cap, kEmpty);
    vals_.assign(cap, V{});
    size_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i)
      if (old_keys[i] != kEmpty) InsertOrAssign(old_keys[i], old_vals[i]);
  }

  std::vector<uint64_t> keys_;
  std::vector<V> vals_;
  size_t size_ = 0;
};

// Length in bytes of the UTF-8 sequence starting with lead byte `c` (1 for invalid lead bytes).
inline size_t Utf8Len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xE) return 3;
  if ((c >> 3) == 0x1E) return 4;
  return 1;
}

inline std::string ByteToken(unsigned char b) {
  static const char* kHex = "0123456789ABCDEF";
  std::string s = "<0x00>";
  s[3] = kHex[b >> 4];
  s[4] = kHex[b & 15];
  return s;
}

// Piece -> tokens cache shared by the BPE and Unigram models: 64 shards, each a mutex-guarded hash
// map cleared when it holds kPerShard pieces; pieces longer than kMaxKeyLen bytes are not cached.
template <size_t kPerShard, size_t kMaxKeyLenBytes>
class PieceCache {
 public:
  static constexpr size_t kShards = 64;
  static constexpr size_t kMaxKeyLen = kMaxKeyLenBytes;

  bool Get(std::string_view key, uint64_t h, std::vector<Token>* out) const {
    Shard& s = shards_[h % kShards];
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return false;
    out->insert(out->end(), it->second.begin(), it->second.end());
    return true;
  }
  void Put(std::string_view key, uint64_t h, const Token* begin, const Token* end) const {
    Shard& s = shards_[h % kShards];
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.map.size() >= kPerShard) s.map.clear();
    s.map.try_emplace(std::string(key), begin, end);
  }

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, std::vector<Token>, StringHash, std::equal_to<>> map;
  };
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace winnow::tok::internal
