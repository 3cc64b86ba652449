#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "batching/batcher.h"

namespace winnow::batching {
namespace {

TEST(BucketLength, Grid) {
  EXPECT_EQ(BucketLength(1, 512), 16u);
  EXPECT_EQ(BucketLength(16, 512), 16u);
  EXPECT_EQ(BucketLength(17, 512), 32u);
  EXPECT_EQ(BucketLength(128, 512), 128u);
  EXPECT_EQ(BucketLength(129, 512), 160u);
  EXPECT_EQ(BucketLength(256, 512), 256u);
  EXPECT_EQ(BucketLength(257, 512), 320u);
  EXPECT_EQ(BucketLength(500, 512), 512u);
  // Never above the cap, never below the row itself.
  EXPECT_EQ(BucketLength(500, 510), 510u);
  EXPECT_EQ(BucketLength(20, 24), 24u);
  EXPECT_EQ(BucketLength(600, 512), 600u);
}

TEST(BucketLength, FewShapesUpTo512) {
  std::set<size_t> shapes;
  for (size_t len = 1; len <= 512; ++len) {
    const size_t b = BucketLength(len, 512);
    EXPECT_GE(b, len);
    shapes.insert(b);
  }
  EXPECT_EQ(shapes.size(), 16u);
}

TEST(PlanBatches, SortsLongestFirstAndCoversEveryIndexOnce) {
  const std::vector<size_t> lengths = {5, 9, 3, 9, 7, 1, 8};
  const auto batches = PlanBatches(lengths, 3, 0);
  std::vector<size_t> seen;
  size_t prev_max = 1000;
  for (const auto& b : batches) {
    EXPECT_LE(b.indices.size(), 3u);
    EXPECT_LE(b.max_len, prev_max);
    prev_max = b.max_len;
    for (size_t i : b.indices) {
      EXPECT_LE(lengths[i], b.max_len);
      seen.push_back(i);
    }
  }
  // Longest first, ties in input order.
  EXPECT_EQ(seen, (std::vector<size_t>{1, 3, 6, 4, 0, 2, 5}));
  EXPECT_EQ(batches[0].max_len, 9u);
  EXPECT_EQ(batches[1].max_len, 7u);
}

TEST(PlanBatches, TokenBudgetCountsPaddedTokens) {
  const std::vector<size_t> lengths = {10, 10, 10, 4, 4, 4, 4};
  const auto batches = PlanBatches(lengths, 100, 25);  // [10 10] [10 4] [4 4 4]
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].indices.size(), 2u);
  EXPECT_EQ(batches[1].indices.size(), 2u);  // the third 10 with a 4: 2 x 10 = 20 <= 25, 3 x 10 > 25
  EXPECT_EQ(batches[1].max_len, 10u);
  EXPECT_EQ(batches[2].indices.size(), 3u);
  EXPECT_EQ(batches[2].max_len, 4u);
  // A single item longer than the budget still runs, alone.
  const auto alone = PlanBatches({50, 3}, 8, 25);
  ASSERT_EQ(alone.size(), 2u);
  EXPECT_EQ(alone[0].indices, (std::vector<size_t>{0}));
}

TEST(PlanBatches, BucketedBatchesUseBucketLengthsWithinTheBudget) {
  std::mt19937 rng(7);
  std::vector<size_t> lengths(500);
  for (auto& l : lengths) l = 1 + rng() % 300;
  const size_t budget = 4096;
  const auto batches = PlanBatches(lengths, 64, budget, 512);
  std::vector<int> count(lengths.size(), 0);
  std::set<size_t> shapes;
  for (const auto& b : batches) {
    const size_t longest = lengths[b.indices[0]];
    EXPECT_EQ(b.max_len, BucketLength(longest, 512));
    EXPECT_LE(b.max_len * b.indices.size(), budget);
    EXPECT_LE(b.indices.size(), 64u);
    shapes.insert(b.max_len);
    for (size_t i : b.indices) {
      EXPECT_LE(lengths[i], b.max_len);
      ++count[i];
    }
  }
  EXPECT_TRUE(std::all_of(count.begin(), count.end(), [](int c) { return c == 1; }));
  // Without buckets nearly every batch has its own length; with them at most the grid's 14 lengths up to 320.
  EXPECT_LE(shapes.size(), 14u);
  std::set<size_t> plain;
  for (const auto& b : PlanBatches(lengths, 64, budget)) plain.insert(b.max_len);
  EXPECT_GT(plain.size(), shapes.size());
}

}  // namespace
}  // namespace winnow::batching
