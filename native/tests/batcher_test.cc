#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
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

// The cost batch_cost > 0 minimises: batch_cost per batch plus every batch's padded tokens.
size_t PlanCost(const std::vector<Batch>& batches, size_t batch_cost) {
  size_t cost = 0;
  for (const auto& b : batches) cost += batch_cost + b.indices.size() * b.max_len;
  return cost;
}

TEST(PlanBatches, BatchCostLeavesAShortRowUnpadded) {
  // Greedily, 5 tokens padded to 309; with a batch worth 32 tokens, a batch of its own is cheaper.
  EXPECT_EQ(PlanBatches({5, 309}, 32, 1024).size(), 1u);
  const auto apart = PlanBatches({5, 309}, 32, 1024, 0, 32);
  ASSERT_EQ(apart.size(), 2u);
  EXPECT_EQ(apart[0].indices, (std::vector<size_t>{1}));
  EXPECT_EQ(apart[1].max_len, 5u);
  // [100 90] [20 18 17] costs 2 x 32 + 200 + 60: less than one batch (32 + 500) or the 100 alone (346).
  const auto cut = PlanBatches({20, 100, 17, 90, 18}, 8, 1024, 0, 32);
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_EQ(cut[0].indices, (std::vector<size_t>{1, 3}));
  EXPECT_EQ(cut[1].indices, (std::vector<size_t>{0, 4, 2}));
  EXPECT_EQ(PlanCost(cut, 32), 324u);
  // Rows of one length gain nothing from more batches: the same batches as greedy packing.
  const std::vector<size_t> same(10, 50);
  const auto even = PlanBatches(same, 4, 1024, 0, 32);
  ASSERT_EQ(even.size(), 3u);
  EXPECT_EQ(even[0].indices.size(), 4u);
  EXPECT_EQ(even[1].indices.size(), 4u);
  EXPECT_EQ(even[2].indices.size(), 2u);
}

TEST(PlanBatches, NoBatchCostPacksAsBefore) {
  // The packing loop PlanBatches had before batch_cost, against random lengths and limits.
  auto packed = [](const std::vector<size_t>& lengths, size_t rows, size_t budget) {
    std::vector<size_t> order(lengths.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
    std::vector<std::vector<size_t>> out;
    size_t max_len = 0;
    for (size_t idx : order) {
      const size_t len = std::max<size_t>(lengths[idx], 1);
      if (out.empty() || out.back().size() >= rows || (budget && max_len * (out.back().size() + 1) > budget)) {
        out.emplace_back();
        max_len = len;
      }
      out.back().push_back(idx);
    }
    return out;
  };
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<size_t> lengths(rng() % 60);
    for (auto& l : lengths) l = rng() % 200;
    const size_t rows = 1 + rng() % 12, budget = trial % 3 ? 50 + rng() % 900 : 0;
    const auto plan = PlanBatches(lengths, rows, budget);
    const auto want = packed(lengths, rows, budget);
    ASSERT_EQ(plan.size(), want.size()) << "trial " << trial;
    for (size_t b = 0; b < plan.size(); ++b) EXPECT_EQ(plan[b].indices, want[b]) << "trial " << trial;
  }
}

TEST(PlanBatches, HugeLimitsPackInsteadOfSearching) {
  // 20,000 rows allowed in one batch and no token budget: the search would take 2 x 10^8 steps, so the rows are
  // packed (one batch), where the search would cut the 5-token rows from the 300-token ones.
  std::vector<size_t> lengths(20000, 5);
  for (size_t i = 0; i < lengths.size(); i += 2) lengths[i] = 300;
  EXPECT_EQ(PlanBatches(lengths, 20000, 0, 0, 32).size(), 1u);
  const std::vector<size_t> few(lengths.begin(), lengths.begin() + 200);
  EXPECT_EQ(PlanBatches(few, 20000, 0, 0, 32).size(), 2u);
}

TEST(PlanBatches, BatchCostPlanIsTheCheapestWithinTheLimits) {
  // Against every way of cutting the sorted rows (small n: all 2^(n-1) cut sets), with and without buckets.
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = 1 + rng() % 9, rows = 1 + rng() % 5, budget = 40 + rng() % 400, cost = rng() % 64;
    const size_t cap = trial % 2 ? 0 : 512;
    std::vector<size_t> lengths(n);
    for (auto& l : lengths) l = 1 + rng() % 120;
    const auto plan = PlanBatches(lengths, rows, budget, cap, cost + 1);
    std::vector<int> count(n, 0);
    for (const auto& b : plan) {
      ASSERT_LE(b.indices.size(), rows);
      EXPECT_TRUE(b.indices.size() == 1 || b.indices.size() * b.max_len <= budget);
      EXPECT_EQ(b.max_len, cap ? BucketLength(lengths[b.indices[0]], cap) : lengths[b.indices[0]]);
      for (size_t i : b.indices) {
        EXPECT_LE(lengths[i], b.max_len);
        ++count[i];
      }
    }
    EXPECT_TRUE(std::all_of(count.begin(), count.end(), [](int c) { return c == 1; }));
    std::vector<size_t> sorted = lengths;
    std::sort(sorted.rbegin(), sorted.rend());
    size_t cheapest = SIZE_MAX;
    for (size_t cuts = 0; cuts < (size_t{1} << (n - 1)); ++cuts) {
      size_t total = 0, begin = 0;
      bool ok = true;
      for (size_t i = 1; i <= n && ok; ++i) {
        if (i < n && !(cuts >> (i - 1) & 1)) continue;
        const size_t k = i - begin, len = cap ? BucketLength(sorted[begin], cap) : sorted[begin];
        ok = k <= rows && (k == 1 || k * len <= budget);
        total += cost + 1 + k * len;
        begin = i;
      }
      if (ok) cheapest = std::min(cheapest, total);
    }
    EXPECT_EQ(PlanCost(plan, cost + 1), cheapest) << "trial " << trial;
  }
}

}  // namespace
}  // namespace winnow::batching
