// Decoders (tokenizer.json `decoder`): turn tokens back into text. Decode() = chain + join("").
// To add a type: implement Decoder and add a branch to LoadDecoder in decoders.cc.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace winnow::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual Status DecodeChain(std::vector<std::string>* tokens) const = 0;
};

// `depth`: how many Sequence decoders enclose `j` (refused beyond json_util::kMaxSequenceDepth).
StatusOr<std::unique_ptr<Decoder>> LoadDecoder(const nlohmann::json& j, const std::string& path, int depth = 0);

}  // namespace winnow::tok
