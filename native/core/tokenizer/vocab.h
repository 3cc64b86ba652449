// Vocabulary storage shared by the WordPiece and WordLevel models: all token bytes live in one
// arena; lookups hash a string_view into an open-addressing table (no allocation per lookup).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/model.h"

namespace winnow::tok {

class StringIdMap {
 public:
  static uint64_t Hash(std::string_view s) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xC2B2AE3D27D4EB4Full);
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      h = (h ^ w) * 0x9FB21C651E98DF25ull;
      h ^= h >> 29;
    }
    uint64_t w = 0;
    std::memcpy(&w, s.data() + i, s.size() - i);
    h = (h ^ w) * 0x9FB21C651E98DF25ull;
    h ^= h >> 32;
    return h;
  }

  void Build(const std::vector<std::pair<std::string_view, int32_t>>& entries) {
    size_t cap = 16;
    while (cap < entries.size() * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    max_len_ = 0;
    for (const auto& [k, id] : entries) Insert(k, id);
  }

  // -1 when absent.
  int32_t Find(std::string_view s) const {
    if (slots_.empty()) return -1;
    const uint64_t h = Hash(s);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& sl = slots_[i];
      if (sl.id < 0) return -1;
      if (sl.hash == h && sl.len == s.size() && std::memcmp(sl.data, s.data(), s.size()) == 0) return sl.id;
    }
  }
  size_t max_len() const { return max_len_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    const char* data = nullptr;
    uint32_t len = 0;
    int32_t id = -1;
  };
  void Insert(std::string_view k, int32_t id) {
    const uint64_t h = Hash(k);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& sl = slots_[i];
      if (sl.id < 0) {
        sl = Slot{h, k.data(), static_cast<uint32_t>(k.size()), id};
        if (k.size() > max_len_) max_len_ = k.size();
        return;
      }
      if (sl.hash == h && sl.len == k.size() && std::memcmp(sl.data, k.data(), k.size()) == 0) {
        sl.id = id;  // later duplicates win, as in a serde HashMap
        return;
      }
    }
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t max_len_ = 0;
};

// token <-> id for a `{"token": id, ...}` vocabulary.
class Vocab {
 public:
  // Parses j (must be an object of non-negative integer ids); `path` is its JSON path.
  Status Load(const nlohmann::json& j, const std::string& path);
  int32_t Find(std::string_view s) const { return map_.Find(s); }
  std::optional<std::string_view> Token(int32_t id) const;
  size_t size() const { return entries_.size(); }
  size_t max_len() const { return map_.max_len(); }
  const std::vector<std::pair<std::string_view, int32_t>>& entries() const { return entries_; }

 private:
  std::string arena_;
  std::vector<std::pair<std::string_view, int32_t>> entries_;
  StringIdMap map_;
  std::vector<std::string_view> dense_;  // id -> token when ids are dense
  std::unordered_map<int32_t, std::string_view> sparse_;
};

// What WordPiece and WordLevel share: a Vocab, an unknown token looked up in it, and the Model lookups
// over that vocabulary.
class VocabModel : public Model {
 public:
  std::optional<int32_t> TokenToId(std::string_view token) const override {
    const int32_t id = vocab_.Find(token);
    if (id < 0) return std::nullopt;
    return id;
  }
  std::optional<std::string_view> IdToToken(int32_t id) const override { return vocab_.Token(id); }
  size_t VocabSize() const override { return vocab_.size(); }
  std::optional<int32_t> UnkId() const override {
    if (unk_id_ < 0) return std::nullopt;
    return unk_id_;
  }

 protected:
  explicit VocabModel(std::string unk_token) : unk_token_(std::move(unk_token)) {}
  // Reads `vocab` (required) and `unk_token` (optional, default from the constructor) of the model object.
  Status LoadVocab(const nlohmann::json& j, const std::string& path);
  // The unknown token's id, or the error for a vocabulary that lacks it.
  StatusOr<int32_t> UnknownId() const;

  Vocab vocab_;
  std::string unk_token_;
  int32_t unk_id_ = -1;
  std::string path_;
};

}  // namespace winnow::tok
