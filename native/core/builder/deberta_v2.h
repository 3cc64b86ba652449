// DeBERTa-v2's relative positions, worked out at build time for every distance a graph can meet, so the graph
// only looks them up (deberta_v2.cc).
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"

namespace winnow::builder::deberta {

// transformers' make_log_bucket_position for the distance d = query - key, with its float32 arithmetic:
// d itself when |d| <= bucket_size / 2, else sign(d) (ceil(log(|d| / mid) / log((max_position - 1) / mid) *
// (mid - 1)) + mid) truncated to an integer. Needs bucket_size >= 2 and max_position - 1 > bucket_size / 2.
int64_t LogBucket(int64_t d, int64_t bucket_size, int64_t max_position);

// The row of the relative embeddings [2 * span, hidden] that the distance d = i - j picks,
// clamp(bucket(d) + span, 0, 2 * span - 1) (bucket(d) = LogBucket when bucket_size > 0, else d), for
// d in [-reach, reach]: index[d + reach]. Every |d| > reach gives the value at +-reach.
struct RelativeIndex {
  int64_t reach = 0;
  std::vector<int64_t> index;  // [2 * reach + 1]
};
// Errors: codes::kModelUnsupported when the index keeps changing past kMaxReach.
inline constexpr int64_t kMaxReach = int64_t{1} << 20;
StatusOr<RelativeIndex> MakeRelativeIndex(int64_t span, int64_t bucket_size, int64_t max_position);

}  // namespace winnow::builder::deberta
