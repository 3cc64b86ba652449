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
  // True when normalizing text[0, c) gives the normalization of `text` up to c wherever text[c] is an
  // ASCII space after an ASCII letter or digit: char-local there, and both chars left as they are
  // (Tokenizer::EncodeRawForTruncation cuts texts at such points). False unless known.
  virtual bool KeepsSpaceCuts() const { return false; }
};

// `j` is the normalizer object (not null), `path` its JSON path.
// `depth`: how many Sequence normalizers enclose `j` (refused beyond json_util::kMaxSequenceDepth).
StatusOr<std::unique_ptr<Normalizer>> LoadNormalizer(const nlohmann::json& j, const std::string& path, int depth = 0);

}  // namespace winnow::tok
