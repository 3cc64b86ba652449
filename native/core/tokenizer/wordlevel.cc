// WordLevel: one token per pre-tokenized piece, or the unknown token.
#include <memory>

#include "tokenizer/json_util.h"
#include "tokenizer/model.h"
#include "tokenizer/vocab.h"

namespace winnow::tok {
namespace {

class WordLevel final : public Model {
 public:
  Status Init(const nlohmann::json& j, const std::string& path) {
    using namespace json_util;
    const json* v = Find(j, "vocab");
    if (!v) return InvalidAt(Key(path, "vocab"), "missing required vocabulary");
    WINNOW_RETURN_IF_ERROR(vocab_.Load(*v, Key(path, "vocab")));
    WINNOW_RETURN_IF_ERROR(GetString(j, "unk_token", path, &unk_token_));
    unk_id_ = vocab_.Find(unk_token_);
    path_ = path;
    return Status::Ok();
  }

  Status Tokenize(std::string_view s, std::vector<Token>* out) const override {
    int32_t id = vocab_.Find(s);
    if (id < 0) {
      if (unk_id_ < 0) return InvalidAt(path_ + ".unk_token", "unknown token \"" + unk_token_ + "\" is not in the vocabulary");
      id = unk_id_;
    }
    out->push_back(Token{id, 0, static_cast<uint32_t>(s.size())});
    return Status::Ok();
  }
  std::optional<int32_t> TokenToId(std::string_view token) const override {
    int32_t id = vocab_.Find(token);
    if (id < 0) return std::nullopt;
    return id;
  }
  std::optional<std::string_view> IdToToken(int32_t id) const override { return vocab_.Token(id); }
  size_t VocabSize() const override { return vocab_.size(); }
  std::optional<int32_t> UnkId() const override {
    if (unk_id_ < 0) return std::nullopt;
    return unk_id_;
  }

 private:
  Vocab vocab_;
  std::string unk_token_ = "<unk>";
  int32_t unk_id_ = -1;
  std::string path_;
};

}  // namespace

StatusOr<std::unique_ptr<Model>> LoadWordLevel(const nlohmann::json& j, const std::string& path) {
  WINNOW_RETURN_IF_ERROR(json_util::ExpectObject(j, path));
  auto m = std::make_unique<WordLevel>();
  WINNOW_RETURN_IF_ERROR(m->Init(j, path));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace winnow::tok
