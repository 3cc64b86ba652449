// Added tokens (tokenizer.json `added_tokens`), with the semantics of HF's AddedVocabulary: tokens
// with `normalized: false` are matched on the raw text first, the others on the normalized text of
// what is left; leftmost-longest matching; single_word / lstrip / rstrip.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "tokenizer/model.h"
#include "tokenizer/normalizers.h"
#include "tokenizer/pre_tokenized.h"

namespace winnow::tok {

struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

class AddedVocabulary {
 public:
  // HF add_tokens: ids come from the model vocabulary when the content is in it, else new ids
  // after the model vocabulary. Duplicates and empty contents are ignored.
  Status AddTokens(const std::vector<AddedToken>& tokens, const Model& model, const Normalizer* normalizer);

  // Splits `text` on added tokens and normalizes the rest (HF extract_and_normalize).
  Status ExtractAndNormalize(const Normalizer* normalizer, std::string_view text, PreTokenizedString* out) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  std::optional<std::string_view> IdToToken(int32_t id) const;
  bool IsSpecialToken(std::string_view token) const { return special_set_.count(std::string(token)) > 0; }
  bool IsSpecialId(int32_t id) const;
  // Added tokens whose content is not in the model vocabulary.
  size_t NumNotInModel(const Model& model) const;
  size_t size() const { return map_.size(); }
  // Whether some token holds whitespace after a non-whitespace char, so that a match of it could
  // run across a space that follows a letter (Tokenizer::EncodeRawForTruncation cuts texts there).
  bool AnyTokenSpansSpace() const;

 private:
  struct Matcher {
    struct Pattern {
      std::string text;
      int32_t id;
    };
    std::array<std::vector<Pattern>, 256> by_first_byte;  // longest first
    bool any = false;
    void Build(std::vector<Pattern> patterns);
    // Leftmost-longest: the longest pattern at the first position where any matches.
    bool FindNext(std::string_view s, size_t from, size_t* start, size_t* end, int32_t* id) const;
  };
  Status SplitWithMatcher(NormalizedString& ns, const Matcher& m, std::vector<Split>* out) const;
  void Refresh(const Model& model, const Normalizer* normalizer);

  std::unordered_map<std::string, int32_t> map_;
  std::unordered_map<int32_t, AddedToken> map_r_;
  std::vector<AddedToken> added_;    // non-special, in order
  std::vector<AddedToken> special_;  // special, in order
  std::unordered_set<std::string> special_set_;
  Matcher raw_, normalized_;
};

}  // namespace winnow::tok
