#include "batching/batcher.h"

#include <algorithm>
#include <numeric>

namespace winnow::batching {

size_t BucketLength(size_t len, size_t cap) {
  const size_t step = len <= 128 ? 16 : len <= 256 ? 32 : 64;
  const size_t bucket = (len + step - 1) / step * step;
  return std::max(len, std::min(bucket, cap));
}

std::vector<Batch> PlanBatches(const std::vector<size_t>& lengths, size_t max_batch_size, size_t token_budget,
                               size_t bucket_cap) {
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  if (max_batch_size == 0) max_batch_size = 1;
  std::vector<Batch> batches;
  Batch cur;
  for (size_t idx : order) {
    size_t len = std::max<size_t>(lengths[idx], 1);
    if (bucket_cap > 0) len = BucketLength(len, bucket_cap);
    // Sorted longest first: the batch's max_len is its first row's length.
    size_t max_len = cur.indices.empty() ? len : cur.max_len;
    bool fits = cur.indices.size() < max_batch_size && (token_budget == 0 || max_len * (cur.indices.size() + 1) <= token_budget);
    if (!cur.indices.empty() && !fits) {
      batches.push_back(std::move(cur));
      cur = Batch();
      max_len = len;
    }
    cur.indices.push_back(idx);
    cur.max_len = max_len;
  }
  if (!cur.indices.empty()) batches.push_back(std::move(cur));
  return batches;
}

}  // namespace winnow::batching
