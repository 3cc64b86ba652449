// WordLevel: one token per pre-tokenized piece, or the unknown token.
#include <memory>

#include "tokenizer/json_util.h"
#include "tokenizer/model.h"
#include "tokenizer/vocab.h"

namespace winnow::tok {
namespace {

class WordLevel final : public VocabModel {
 public:
  WordLevel() : VocabModel("<unk>") {}
  Status Init(const nlohmann::json& j, const std::string& path) { return LoadVocab(j, path); }

  Status Tokenize(std::string_view s, std::vector<Token>* out) const override {
    int32_t id = vocab_.Find(s);
    if (id < 0) {
      WINNOW_ASSIGN_OR_RETURN(id, UnknownId());
    }
    out->push_back(Token{id, 0, static_cast<uint32_t>(s.size())});
    return Status::Ok();
  }
};

}  // namespace

StatusOr<std::unique_ptr<Model>> LoadWordLevel(const nlohmann::json& j, const std::string& path) {
  WINNOW_RETURN_IF_ERROR(json_util::ExpectObject(j, path));
  auto m = std::make_unique<WordLevel>();
  WINNOW_RETURN_IF_ERROR(m->Init(j, path));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace winnow::tok
