// Pre-tokenizers of tokenizer.json (`pre_tokenizer` key). To add a type: implement PreTokenizer and
// add a branch to LoadPreTokenizer in pre_tokenizers.cc.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/pre_tokenized.h"

namespace winnow::tok {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual Status PreTokenize(PreTokenizedString* s) const = 0;
};

// `depth`: how many Sequence pre-tokenizers enclose `j` (refused beyond json_util::kMaxSequenceDepth).
StatusOr<std::unique_ptr<PreTokenizer>> LoadPreTokenizer(const nlohmann::json& j, const std::string& path, int depth = 0);

// Parses "Removed" / "Isolated" / ... ; `path` names the value.
Status ParseSplitBehavior(const nlohmann::json& v, const std::string& path, SplitBehavior* out);

}  // namespace winnow::tok
