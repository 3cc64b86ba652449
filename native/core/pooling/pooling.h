// Pooling kernels: static-embedding bags (Model2Vec), hidden-state pooling for transformer
// sentence encoders (sentence-transformers semantics) and row L2 normalisation.
//
// Every kernel has a scalar reference (the oracle) and AVX2 / AVX-512 / NEON versions chosen at
// run time from the CPU's features (common/cpu_features.h); WINNOW_SIMD=scalar|avx2|avx512|neon
// forces a level. The overloads taking a SimdLevel run that exact level (tests, benchmarks) and
// answer codes::kInvalidArgument when this CPU cannot run it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/cpu_features.h"
#include "common/status.h"

namespace winnow::pooling {

enum class TableDType { kF32, kF16, kBF16, kI8 };
size_t TableDTypeSize(TableDType dtype);

// A [rows, dim] row-major embedding table, read in place (no dequantised copy is ever made).
struct TableView {
  const void* data = nullptr;         // [rows, dim] of dtype; need not be aligned
  TableDType dtype = TableDType::kF32;
  size_t rows = 0;
  size_t dim = 0;
  const float* row_weights = nullptr;  // [vocab] or null: per-token scale, indexed by token id
  const int64_t* mapping = nullptr;    // [vocab] or null: token id -> row
  size_t vocab = 0;                    // valid token ids are [0, vocab); 0 means `rows`
  float i8_scale = 1.0f;               // dequantisation multiplier for kI8
};

// out[dim] = mean over ids of row(mapping ? mapping[id] : id) * (row_weights ? row_weights[id] : 1)
// (x i8_scale for kI8), accumulated in fp32, then L2-normalised when `normalize` (a zero vector
// stays zero). n == 0 gives zeros. kInvalidArgument for an id outside [0, vocab) or a mapping
// entry outside [0, rows).
Status EmbeddingBag(const TableView& table, const int32_t* ids /*[n]*/, size_t n, float* out /*[dim]*/,
                    bool normalize);
Status EmbeddingBag(SimdLevel level, const TableView& table, const int32_t* ids /*[n]*/, size_t n,
                    float* out /*[dim]*/, bool normalize);

// sentence-transformers Pooling modes. A mask entry counts as "attended" when non-zero.
//   kCls:          hidden[b, 0, :] (mask ignored, as sentence-transformers does).
//   kMean:         sum of attended rows / max(count, 1e-9); an all-zero mask row gives zeros.
//   kMax:          max over positions after setting unattended positions to -1e9 (so an
//                  all-zero mask row gives -1e9 everywhere, as sentence-transformers does).
//   kLastToken:    the last attended position, per row (left or right padding alike);
//                  an all-zero mask row gives zeros (sentence-transformers gathers hidden*mask).
//   kWeightedMean: weights 1..seq by position over attended rows / max(sum of weights, 1e-9).
enum class PoolMode { kCls, kMean, kMax, kLastToken, kWeightedMean };

Status PoolHidden(const float* hidden /*[batch, seq, dim]*/, const int64_t* mask /*[batch, seq]*/,
                  size_t batch, size_t seq, size_t dim, PoolMode mode, float* out /*[batch, dim]*/);
Status PoolHidden(SimdLevel level, const float* hidden /*[batch, seq, dim]*/,
                  const int64_t* mask /*[batch, seq]*/, size_t batch, size_t seq, size_t dim, PoolMode mode,
                  float* out /*[batch, dim]*/);

// sentence-transformers Normalize: x / max(||x||, 1e-12), per row.
void L2NormalizeRows(float* x /*[rows, dim]*/, size_t rows, size_t dim);
Status L2NormalizeRows(SimdLevel level, float* x /*[rows, dim]*/, size_t rows, size_t dim);

// sentence-transformers' similarity functions (util.cos_sim, dot_score, euclidean_sim, manhattan_sim), higher
// meaning closer: cosine = dot / (max(||a||, 1e-12) * max(||b||, 1e-12)); euclidean and manhattan are the
// negated L2 and L1 distances. Dot products go through the level's dot_tiles where it has them (fp32 chains,
// kernels.h), else fp64 sums; norms, squared and absolute differences are summed in fp64. A pair's result does
// not depend on where it sits in the call, nor on the thread count.
enum class Similarity { kCosine, kDot, kEuclidean, kManhattan };

// out[i * m + j] compares a row i with b row j; pairwise (n == m): out[i] compares a row i with b row i.
// `threads` (0: one per core) share a large call (about 4 M multiply-adds and 512 rows of b, or pairs, at least)
// through a process-wide pool, in slices of b's rows (pairwise: of the pairs).
void SimilarityMatrix(const float* a /*[n, dim]*/, size_t n, const float* b /*[m, dim]*/, size_t m, size_t dim,
                      Similarity fn, bool pairwise, float* out /*[n, m] or [n]*/, int threads = 1);
Status SimilarityMatrix(SimdLevel level, const float* a, size_t n, const float* b, size_t m, size_t dim,
                        Similarity fn, bool pairwise, float* out, int threads = 1);

// sentence-transformers' util.semantic_search: for each query row, the min(k, m) corpus rows with the highest `fn`
// scores, best first (equal scores: lower index first), into index[i * kk ..] and score[i * kk ..] (kk = min(k, m)).
// The corpus is scored `chunk` rows at a time, each chunk split over
// up to `threads` threads (0: one per core; slices of at least 256 rows, on the pool SimilarityMatrix uses; the
// result does not depend on the count), each thread scoring about 64K pairs at a time for its heaps; after each
// chunk `progress` gets (corpus rows done, m), and before each `cancelled` is asked: true ends the call with
// ABORTED. NaN scores rank last.
Status SemanticSearch(const float* q /*[n, dim]*/, size_t n, const float* c /*[m, dim]*/, size_t m, size_t dim,
                      Similarity fn, size_t k, size_t chunk, int threads, const std::function<bool()>& cancelled,
                      const std::function<void(size_t, size_t)>& progress, std::vector<int32_t>* index,
                      std::vector<float>* score);

// Whether the kernels of `level` are compiled in and runnable here.
bool KernelLevelAvailable(SimdLevel level);
// The level the overloads without a SimdLevel use ("scalar", "avx2", "avx512", "neon").
const char* ActiveSimdLevelName();

}  // namespace winnow::pooling
