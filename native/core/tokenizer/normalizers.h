// Normalizers of tokenizer.json (`normalizer` key). Each keeps byte alignments exactly as HF does.
// To add a type: implement Normalizer and add a branch to LoadNormalizer in normalizers.cc.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/normalized_string.h"

namespace winnow::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual Status Normalize(NormalizedString* s) const = 0;
};

// `j` is the normalizer object (not null), `path` its JSON path.
// `depth`: how many Sequence normalizers enclose `j` (refused beyond json_util::kMaxSequenceDepth).
StatusOr<std::unique_ptr<Normalizer>> LoadNormalizer(const nlohmann::json& j, const std::string& path, int depth = 0);

}  // namespace winnow::tok
