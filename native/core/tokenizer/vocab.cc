#include "tokenizer/vocab.h"

#include "tokenizer/json_util.h"

namespace winnow::tok {

Status Vocab::Load(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object()) return InvalidAt(path, std::string("expected an object, got ") + j.type_name());
  size_t bytes = 0;
  for (auto it = j.begin(); it != j.end(); ++it) bytes += it.key().size();
  arena_.clear();
  arena_.reserve(bytes);
  std::vector<int32_t> ids;
  ids.reserve(j.size());
  int32_t max_id = -1;
  for (auto it = j.begin(); it != j.end(); ++it) {
    int32_t id;
    WINNOW_RETURN_IF_ERROR(json_util::ToId(it.value(), path + "[\"" + it.key() + "\"]", &id));
    arena_ += it.key();
    ids.push_back(id);
    if (id > max_id) max_id = id;
  }
  entries_.clear();
  entries_.reserve(ids.size());
  size_t off = 0;
  size_t k = 0;
  for (auto it = j.begin(); it != j.end(); ++it, ++k) {
    entries_.emplace_back(std::string_view(arena_).substr(off, it.key().size()), ids[k]);
    off += it.key().size();
  }
  map_.Build(entries_);
  dense_.clear();
  sparse_.clear();
  if (max_id >= 0 && static_cast<size_t>(max_id) <= entries_.size() * 4 + 1024) {
    dense_.assign(static_cast<size_t>(max_id) + 1, std::string_view());
    std::vector<bool> present(dense_.size(), false);
    for (const auto& [tok, id] : entries_) {
      dense_[id] = tok;
      present[id] = true;
    }
    // Holes stay as null views; Token() reports them absent.
    for (size_t i = 0; i < dense_.size(); ++i)
      if (!present[i]) dense_[i] = std::string_view(nullptr, 0);
  } else {
    for (const auto& [tok, id] : entries_) sparse_[id] = tok;
  }
  return Status::Ok();
}

std::optional<std::string_view> Vocab::Token(int32_t id) const {
  if (id < 0) return std::nullopt;
  if (!dense_.empty() || sparse_.empty()) {
    if (static_cast<size_t>(id) >= dense_.size() || dense_[id].data() == nullptr) return std::nullopt;
    return dense_[id];
  }
  auto it = sparse_.find(id);
  if (it == sparse_.end()) return std::nullopt;
  return it->second;
}

Status VocabModel::LoadVocab(const nlohmann::json& j, const std::string& path) {
  using namespace json_util;
  const json* v = Find(j, "vocab");
  if (!v) return InvalidAt(Key(path, "vocab"), "missing required vocabulary");
  WINNOW_RETURN_IF_ERROR(vocab_.Load(*v, Key(path, "vocab")));
  WINNOW_RETURN_IF_ERROR(GetString(j, "unk_token", path, &unk_token_));
  unk_id_ = vocab_.Find(unk_token_);
  path_ = path;
  return Status::Ok();
}

StatusOr<int32_t> VocabModel::UnknownId() const {
  if (unk_id_ < 0) return InvalidAt(path_ + ".unk_token", "unknown token \"" + unk_token_ + "\" is not in the vocabulary");
  return unk_id_;
}

}  // namespace winnow::tok
