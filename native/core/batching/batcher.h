// Length-sorted, token-budget batching (as text-embeddings-inference does): a small pure function.
#pragma once

#include <cstddef>
#include <vector>

namespace winnow::batching {

struct Batch {
  std::vector<size_t> indices;  // positions in the caller's input, longest first
  size_t max_len = 0;           // every row is padded to this
};

// The padded length for a batch whose longest row has `len` tokens when lengths are bucketed: `len` rounded
// up to a multiple of 16 up to 128, of 32 up to 256, of 64 beyond, and never above `cap` (nor below `len`).
// A GPU then sees 16 sequence lengths up to 512 instead of up to 512 different ones.
size_t BucketLength(size_t len, size_t cap);

// Sorts items by length (longest first, ties by input order) and cuts the sorted run into batches with
// max_len * rows <= token_budget and rows <= max_batch_size (a single item always fits).
// With bucket_cap > 0, each batch's max_len is BucketLength(longest row, bucket_cap) and the budget
// counts the bucketed length.
// batch_cost 0: each batch takes rows until the next would break a limit. batch_cost > 0: the cuts are those of
// least total cost, a batch costing batch_cost plus its padded tokens, so a short row is not padded to a long
// one's length where a batch of its own costs less (batch_cost: one run's fixed cost, in tokens' time).
// (Plans whose search would take over 2^24 steps, with limits of thousands of rows, are packed greedily.)
// Every index appears in exactly one batch; callers restore input order through `indices`.
std::vector<Batch> PlanBatches(const std::vector<size_t>& lengths, size_t max_batch_size, size_t token_budget,
                               size_t bucket_cap = 0, size_t batch_cost = 0);

}  // namespace winnow::batching
