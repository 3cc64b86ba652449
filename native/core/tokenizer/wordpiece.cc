// WordPiece: greedy longest-match-first over the vocabulary, continuation pieces carry a prefix.
#include <memory>

#include "tokenizer/json_util.h"
#include "tokenizer/model.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace winnow::tok {
namespace {

inline bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

class WordPiece final : public VocabModel {
 public:
  WordPiece() : VocabModel("[UNK]") {}
  Status Init(const nlohmann::json& j, const std::string& path) {
    using namespace json_util;
    WINNOW_RETURN_IF_ERROR(LoadVocab(j, path));
    WINNOW_RETURN_IF_ERROR(GetString(j, "continuing_subword_prefix", path, &prefix_));
    uint64_t max_chars = 100;
    WINNOW_RETURN_IF_ERROR(GetUint(j, "max_input_chars_per_word", path, &max_chars, false, UINT64_MAX));
    max_chars_ = max_chars;
    std::vector<std::pair<std::string_view, int32_t>> cont;
    for (const auto& [tok, id] : vocab_.entries()) {
      if (tok.size() >= prefix_.size() && tok.substr(0, prefix_.size()) == prefix_)
        cont.emplace_back(tok.substr(prefix_.size()), id);
    }
    cont_.Build(cont);
    return Status::Ok();
  }

  Status Tokenize(std::string_view s, std::vector<Token>* out) const override {
    const uint32_t n = static_cast<uint32_t>(s.size());
    size_t chars = 0;
    for (char c : s) chars += !IsContinuation(c);
    if (chars > max_chars_) return PushUnk(n, out);
    const size_t first = out->size();
    uint32_t start = 0;
    while (start < n) {
      const bool at_start = start == 0;
      const size_t max_len = at_start ? vocab_.max_len() : cont_.max_len();
      uint32_t end = static_cast<uint32_t>(std::min<size_t>(n, start + max_len));
      while (end < n && end > start && IsContinuation(s[end])) --end;
      int32_t id = -1;
      while (end > start) {
        id = at_start ? vocab_.Find(s.substr(start, end - start)) : cont_.Find(s.substr(start, end - start));
        if (id >= 0) break;
        --end;
        while (end > start && IsContinuation(s[end])) --end;
      }
      if (id < 0) {
        out->resize(first);
        return PushUnk(n, out);
      }
      out->push_back(Token{id, start, end});
      start = end;
    }
    return Status::Ok();
  }

 private:
  Status PushUnk(uint32_t n, std::vector<Token>* out) const {
    WINNOW_ASSIGN_OR_RETURN(const int32_t unk, UnknownId());
    out->push_back(Token{unk, 0, n});
    return Status::Ok();
  }

  StringIdMap cont_;
  std::string prefix_ = "##";
  uint64_t max_chars_ = 100;
};

}  // namespace

StatusOr<std::unique_ptr<Model>> LoadWordPiece(const nlohmann::json& j, const std::string& path) {
  WINNOW_RETURN_IF_ERROR(json_util::ExpectObject(j, path));
  auto m = std::make_unique<WordPiece>();
  WINNOW_RETURN_IF_ERROR(m->Init(j, path));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace winnow::tok
