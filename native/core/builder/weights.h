// The weights a graph is built from: a checkpoint's tensors, some replaced (a LoRA adapter merged in, a head an
// adapter saves whole), and the names' prefix found once.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "common/status.h"

namespace winnow::builder {

// A float32 tensor held in memory (merged or converted).
struct OwnedTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

class Weights {
 public:
  explicit Weights(const checkpoint::Checkpoint* checkpoint) : checkpoint_(checkpoint) {}

  // The prefix in front of the base model's names: "bert." when `probe` (e.g. "embeddings.word_embeddings.weight")
  // is stored as "bert.embeddings.word_embeddings.weight", "" when stored as it is; tried in `prefixes` order, each
  // also under "ranking_model." (OpenProvence checkpoints hold the ranker there, beside pruning_head.*).
  // Errors: codes::kCheckpointInvalid naming `probe` when no prefix fits.
  Status FindPrefix(const std::string& probe, const std::vector<std::string>& prefixes);
  const std::string& prefix() const { return prefix_; }  // outer() + the base model's own
  const std::string& outer() const { return outer_; }    // "" or "ranking_model.": in front of the task heads too

  // Whether `name` (a full name, as stored) exists, replaced or stored.
  bool Has(std::string_view name) const;
  // The replacement of `name` when there is one, else nullptr.
  const OwnedTensor* Override(std::string_view name) const;
  // The stored tensor `name` (nullptr when absent or replaced).
  const checkpoint::Tensor* Stored(std::string_view name) const;
  // Replaces (or adds) `name`: LoRA merges and saved heads.
  void Replace(const std::string& name, OwnedTensor t) { overrides_[name] = std::move(t); }
  // `name`'s shape, replaced or stored; empty when absent.
  std::vector<int64_t> Shape(std::string_view name) const;
  // `name` as float32 values (a copy), replaced or stored.
  StatusOr<std::vector<float>> Floats(const std::string& name) const;

  const checkpoint::Checkpoint& checkpoint() const { return *checkpoint_; }

 private:
  const checkpoint::Checkpoint* checkpoint_;
  std::string prefix_, outer_;
  std::map<std::string, OwnedTensor, std::less<>> overrides_;
};

}  // namespace winnow::builder
