#include "batching/batcher.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace winnow::batching {

size_t BucketLength(size_t len, size_t cap) {
  const size_t step = len <= 128 ? 16 : len <= 256 ? 32 : 64;
  const size_t bucket = (len + step - 1) / step * step;
  return std::max(len, std::min(bucket, cap));
}

namespace {

constexpr size_t kMaxSearchSteps = size_t{1} << 24;

// Batches of consecutive rows of `order` (longest first) ending at each cut in `ends`.
std::vector<Batch> CutBatches(const std::vector<size_t>& order, const std::vector<size_t>& padded,
                              const std::vector<size_t>& ends) {
  std::vector<Batch> batches(ends.size());
  size_t begin = 0;
  for (size_t b = 0; b < ends.size(); ++b) {
    batches[b].indices.assign(order.begin() + begin, order.begin() + ends[b]);
    batches[b].max_len = padded[begin];  // sorted longest first: the batch's first row is its longest
    begin = ends[b];
  }
  return batches;
}

}  // namespace

std::vector<Batch> PlanBatches(const std::vector<size_t>& lengths, size_t max_batch_size, size_t token_budget,
                               size_t bucket_cap, size_t batch_cost) {
  const size_t n = lengths.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  if (max_batch_size == 0) max_batch_size = 1;
  // padded[i]: the length a batch whose longest row is order[i] pads to.
  std::vector<size_t> padded(n);
  for (size_t i = 0; i < n; ++i) {
    padded[i] = std::max<size_t>(lengths[order[i]], 1);
    if (bucket_cap > 0) padded[i] = BucketLength(padded[i], bucket_cap);
  }
  // The most rows a batch starting at row i may take.
  auto limit = [&](size_t i) {
    size_t rows = std::min(max_batch_size, n - i);
    if (token_budget > 0) rows = std::min(rows, std::max<size_t>(token_budget / padded[i], 1));
    return rows;
  };
  std::vector<size_t> ends;
  // The least-cost search tries every batch size at every row: with user limits of thousands of rows over tens of
  // thousands of rows (a PruningEncoder call's blocks) that is billions of steps, so past kMaxSearchSteps it packs.
  size_t steps = 0;
  for (size_t i = 0; i < n && batch_cost > 0 && steps <= kMaxSearchSteps; ++i) steps += limit(i);
  if (batch_cost == 0 || steps > kMaxSearchSteps) {
    for (size_t i = 0; i < n; i = ends.back()) ends.push_back(i + limit(i));
    return CutBatches(order, padded, ends);
  }
  // Least-cost cuts: best[i] is the cheapest plan for rows i.., next[i] where its first batch ends.
  std::vector<double> best(n + 1, 0.0);
  std::vector<size_t> next(n + 1, n);
  for (size_t i = n; i-- > 0;) {
    best[i] = std::numeric_limits<double>::infinity();
    const size_t rows = limit(i);
    for (size_t k = 1; k <= rows; ++k) {
      const double cost = static_cast<double>(batch_cost) + static_cast<double>(k * padded[i]) + best[i + k];
      if (cost <= best[i]) {  // ties: the longer first batch, as packing greedily would
        best[i] = cost;
        next[i] = i + k;
      }
    }
  }
  for (size_t i = 0; i < n; i = next[i]) ends.push_back(next[i]);
  return CutBatches(order, padded, ends);
}

}  // namespace winnow::batching
