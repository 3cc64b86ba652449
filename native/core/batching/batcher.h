// Length-sorted, token-budget batching (as text-embeddings-inference does): a small pure function.
#pragma once

#include <cstddef>
#include <vector>

namespace winnow::batching {

struct Batch {
  std::vector<size_t> indices;  // positions in the caller's input, longest first
  size_t max_len = 0;           // every row is padded to this
};

// Sorts items by length (longest first, ties by input order) and packs them while
// max_len * rows <= token_budget and rows <= max_batch_size (a single item always fits).
// Every index appears in exactly one batch; callers restore input order through `indices`.
std::vector<Batch> PlanBatches(const std::vector<size_t>& lengths, size_t max_batch_size, size_t token_budget);

}  // namespace winnow::batching
