// Pre-tokenizers of tokenizer.json (`pre_tokenizer` key). To add a type: implement PreTokenizer and
// add a branch to LoadPreTokenizer in pre_tokenizers.cc.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/pre_tokenized.h"

namespace winnow::tok {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual Status PreTokenize(PreTokenizedString* s) const = 0;
  // What the pre-tokenizer does at an ASCII space after an ASCII letter or digit (where
  // Tokenizer::EncodeRawForTruncation cuts texts): kSplits: always splits there, and its pieces before
  // that point do not depend on the text after it; kKeeps: leaves both chars as they are, and where it
  // splits before that point does not depend on the text after it; kUnknown: neither is known.
  enum class SpaceCut { kUnknown, kKeeps, kSplits };
  virtual SpaceCut AtSpaceCut() const { return SpaceCut::kUnknown; }
};

// `depth`: how many Sequence pre-tokenizers enclose `j` (refused beyond json_util::kMaxSequenceDepth).
StatusOr<std::unique_ptr<PreTokenizer>> LoadPreTokenizer(const nlohmann::json& j, const std::string& path, int depth = 0);

// The pre-tokenizers run in order, as a `Sequence` is (for pipelines assembled in code).
std::unique_ptr<PreTokenizer> MakeSequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> seq);

// Parses "Removed" / "Isolated" / ... ; `path` names the value.
Status ParseSplitBehavior(const nlohmann::json& v, const std::string& path, SplitBehavior* out);

}  // namespace winnow::tok
