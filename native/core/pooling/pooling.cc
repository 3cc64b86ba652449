#include "pooling/pooling.h"

#include <algorithm>
#include <cmath>
#include <vector>
#include <limits>
#include <string>
#include <thread>

#include "common/thread_pool.h"
#include "pooling/kernels.h"

namespace winnow::pooling {
namespace {

using internal::FinishDot;
using internal::Kernels;
using internal::PairOp;

constexpr size_t kSimilaritySlice = 256;  // rows of b (or pairs, or corpus rows) per thread's slice, at least

// The threads a similarity or semanticSearch call may use: `threads`, 0 meaning one per core, at most one per core.
size_t SimilarityThreads(int threads) {
  const size_t hw = std::max(1u, std::thread::hardware_concurrency());
  return threads > 0 ? std::min<size_t>(threads, hw) : hw;
}

// One pool for every similarity and semanticSearch call in the process; a call that finds it busy runs alone.
ThreadPool& SimilarityPool() {
  static ThreadPool pool(static_cast<int>(SimilarityThreads(0)) - 1);
  return pool;
}

const Kernels* KernelsFor(SimdLevel level) {
  if (!CpuSupports(level)) return nullptr;
  switch (level) {
    case SimdLevel::kScalar: return &internal::ScalarKernels();
    case SimdLevel::kAvx2: return internal::Avx2Kernels();
    case SimdLevel::kAvx512: return internal::Avx512Kernels();
    case SimdLevel::kNeon: return internal::NeonKernels();
  }
  return nullptr;
}

// Resolved once per process; a function-pointer table, so each call costs one indirect call.
const Kernels& ActiveKernels() {
  static const Kernels* const k = [] {
    const Kernels* found = KernelsFor(ActiveSimdLevel());
    return found != nullptr ? found : &internal::ScalarKernels();
  }();
  return *k;
}

Status LevelUnavailable(SimdLevel level) {
  return Status(codes::kInvalidArgument,
                std::string("SIMD level '") + SimdLevelName(level) + "' is not available on this CPU/build");
}

Status ValidateIds(const TableView& t, const int32_t* ids, size_t n) {
  const size_t vocab = t.vocab != 0 ? t.vocab : t.rows;
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = ids[i];
    if (id < 0 || static_cast<size_t>(id) >= vocab) {
      return Status(codes::kInvalidArgument, "token id " + std::to_string(id) + " at position " + std::to_string(i) +
                                                 " is outside the vocabulary of " + std::to_string(vocab));
    }
    if (t.mapping != nullptr) {
      const int64_t row = t.mapping[id];
      if (row < 0 || static_cast<uint64_t>(row) >= t.rows) {
        return Status(codes::kInvalidArgument, "token id " + std::to_string(id) + " maps to row " + std::to_string(row) +
                                                   ", outside the table of " + std::to_string(t.rows) + " rows");
      }
    } else if (static_cast<size_t>(id) >= t.rows) {
      return Status(codes::kInvalidArgument, "token id " + std::to_string(id) + " is outside the table of " +
                                                 std::to_string(t.rows) + " rows");
    }
  }
  return Status::Ok();
}

Status RunEmbeddingBag(const Kernels& k, const TableView& t, const int32_t* ids, size_t n, float* out,
                       bool normalize) {
  WINNOW_RETURN_IF_ERROR(ValidateIds(t, ids, n));
  std::fill(out, out + t.dim, 0.0f);
  if (n == 0 || t.dim == 0) return Status::Ok();
  k.bag_sum(t, ids, n, out);
  k.scale(out, 1.0f / static_cast<float>(n), t.dim);
  if (normalize) {
    const double ss = k.sum_squares(out, t.dim);
    if (ss > 0) k.scale(out, static_cast<float>(1.0 / std::sqrt(ss)), t.dim);
  }
  return Status::Ok();
}

void NormalizeRows(const Kernels& k, float* x, size_t rows, size_t dim) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = x + r * dim;
    const double norm = std::sqrt(k.sum_squares(row, dim));
    k.scale(row, static_cast<float>(1.0 / std::max(norm, 1e-12)), dim);
  }
}

// Cosine's norm of a row: at least torch normalize's eps.
double RowNorm(const Kernels& k, const float* x, size_t dim) { return std::max(std::sqrt(k.sum_squares(x, dim)), 1e-12); }

std::vector<double> RowNorms(const Kernels& k, const float* x, size_t rows, size_t dim) {
  std::vector<double> v(rows);
  for (size_t r = 0; r < rows; ++r) v[r] = RowNorm(k, x + r * dim, dim);
  return v;
}

// out[i * ldo + j] (matrix) or out[i] (pairwise). a_norms: cosine's norms of a's rows where the caller already
// has them (callers that score b a slice at a time take them once), else nullptr.
void RunSimilarity(const Kernels& k, const float* a, size_t n, const float* b, size_t m, size_t dim, Similarity fn,
                   bool pairwise, float* out, size_t ldo, const double* a_norms = nullptr) {
  const bool cos = fn == Similarity::kCosine;
  // Norms are taken next to the row's dot products (per pair, per block of b), while the row is in cache, rather
  // than in a pass of their own over all of b first.
  auto norm = [&](const float* x) { return RowNorm(k, x, dim); };
  const PairOp op = fn == Similarity::kEuclidean   ? PairOp::kSqDiff
                    : fn == Similarity::kManhattan ? PairOp::kAbsDiff
                                                   : PairOp::kDot;
  auto sum = [&](size_t i, size_t j) {  // the differences' pair kernels
    return op == PairOp::kSqDiff ? k.sq_diff(a + i * dim, b + j * dim, dim) : k.abs_diff(a + i * dim, b + j * dim, dim);
  };
  auto finish = [&](double s) -> float {  // the differences' scores
    return fn == Similarity::kEuclidean ? static_cast<float>(-std::sqrt(s)) : static_cast<float>(-s);
  };
  if (op == PairOp::kDot) {
    // Kernels::dot_tiles (fp32 chains; fp64 on the scalar level): pairwise entries are 1 x 1 tiles, the matrix
    // goes a block of b (kept in cache) against a block of a rows at a time, through a buffer of fp64 sums that
    // finish_dots turns into scores a row at a time (the same bits as FinishDot).
    if (pairwise) {
      for (size_t i = 0; i < n; ++i) {
        double s = 0;
        k.dot_tiles(a + i * dim, 1, b + i * dim, 1, dim, &s, 1);
        const double nb = cos ? norm(b + i * dim) : 0.0;
        out[i] = FinishDot(s, cos ? norm(a + i * dim) : 0.0, cos ? &nb : nullptr);
      }
      return;
    }
    std::vector<double> own_na, nb;
    if (cos && a_norms == nullptr) {
      own_na = RowNorms(k, a, n, dim);
      a_norms = own_na.data();
    }
    const size_t b_block = std::max<size_t>(4, (128 * 1024) / std::max<size_t>(1, dim * sizeof(float)) / 4 * 4);
    const size_t a_block = 64;
    std::vector<double> sums(std::min(n, a_block) * std::min(m, b_block));
    for (size_t j0 = 0; j0 < m; j0 += b_block) {
      const size_t mj = std::min(b_block, m - j0);
      if (cos) {
        nb.resize(mj);
        for (size_t j = 0; j < mj; ++j) nb[j] = norm(b + (j0 + j) * dim);
      }
      for (size_t i0 = 0; i0 < n; i0 += a_block) {
        const size_t ni = std::min(a_block, n - i0);
        k.dot_tiles(a + i0 * dim, ni, b + j0 * dim, mj, dim, sums.data(), mj);
        for (size_t i = 0; i < ni; ++i)
          k.finish_dots(sums.data() + i * mj, mj, cos ? a_norms[i0 + i] : 1.0, cos ? nb.data() : nullptr,
                        out + (i0 + i) * ldo + j0);
      }
    }
    return;
  }
  if (pairwise) {
    for (size_t i = 0; i < n; ++i) out[i] = finish(sum(i, i));
    return;
  }
  // Blocks of b rows small enough to stay in cache while the a rows pass over them; a in chunks whose rows are
  // widened to fp64 once, four at a time through block4 where the level has it.
  const size_t b_block = std::max<size_t>(1, (64 * 1024) / std::max<size_t>(1, dim * sizeof(float)));
  const size_t a_chunk = k.block4 != nullptr ? std::max<size_t>(4, ((1u << 21) / std::max<size_t>(1, dim * sizeof(double))) / 4 * 4) : n;
  std::vector<double> wide;
  for (size_t i0 = 0; i0 < n; i0 += a_chunk) {
    const size_t i1 = std::min(n, i0 + a_chunk);
    const size_t blocked = k.block4 != nullptr ? (i1 - i0) / 4 * 4 : 0;  // rows i0 .. i0 + blocked go four at a time
    wide.assign(a + i0 * dim, a + (i0 + blocked) * dim);
    for (size_t j0 = 0; j0 < m; j0 += b_block) {
      const size_t j1 = std::min(m, j0 + b_block);
      for (size_t r = 0; r < blocked; r += 4) {
        for (size_t j = j0; j < j1; ++j) {
          double s[4] = {0, 0, 0, 0};
          k.block4(static_cast<int>(op), wide.data() + r * dim, b + j * dim, dim, s);
          for (size_t q = 0; q < 4; ++q) out[(i0 + r + q) * ldo + j] = finish(s[q]);
        }
      }
      for (size_t i = i0 + blocked; i < i1; ++i)
        for (size_t j = j0; j < j1; ++j) out[i * ldo + j] = finish(sum(i, j));
    }
  }
}

// RunSimilarity on up to `threads` threads (0: one per core) of a process-wide pool: the matrix split into
// column slices of b, pairwise into row ranges. Each entry's arithmetic does not depend on the split. Below
// about 4 M multiply-adds, or when the pool is busy with another call, it runs on the calling thread.
void RunSimilarityThreaded(const Kernels& k, const float* a, size_t n, const float* b, size_t m, size_t dim,
                           Similarity fn, bool pairwise, float* out, int threads) {
  const size_t want = SimilarityThreads(threads);
  const size_t rows = pairwise ? n : m;
  const size_t work = (pairwise ? n : n * m) * std::max<size_t>(dim, 1);
  if (want <= 1 || work < (size_t{1} << 22) || rows < 2 * kSimilaritySlice) {
    RunSimilarity(k, a, n, b, m, dim, fn, pairwise, out, m);
    return;
  }
  // Slices: at least kSimilaritySlice rows, about four per thread so an uneven core evens out. Every matrix
  // slice needs all of a's norms: taken once here.
  const size_t slice = std::max(kSimilaritySlice, (rows + 4 * want - 1) / (4 * want));
  const std::vector<double> na = !pairwise && fn == Similarity::kCosine ? RowNorms(k, a, n, dim) : std::vector<double>();
  ParallelFor(&SimilarityPool(), rows, slice, [&](size_t r0, size_t r1) {
    if (pairwise)
      RunSimilarity(k, a + r0 * dim, r1 - r0, b + r0 * dim, r1 - r0, dim, fn, true, out + r0, 0);
    else
      RunSimilarity(k, a, n, b + r0 * dim, r1 - r0, dim, fn, false, out + r0, m, na.empty() ? nullptr : na.data());
  });
}

Status RunPoolHidden(const Kernels& k, const float* hidden, const int64_t* mask, size_t batch, size_t seq,
                     size_t dim, PoolMode mode, float* out) {
  for (size_t b = 0; b < batch; ++b) {
    const float* h = hidden + b * seq * dim;  // [seq, dim]
    const int64_t* m = mask + b * seq;        // [seq]
    float* o = out + b * dim;                 // [dim]
    switch (mode) {
      case PoolMode::kCls:
        if (seq == 0) {
          std::fill(o, o + dim, 0.0f);
        } else {
          std::copy(h, h + dim, o);
        }
        break;
      case PoolMode::kMean:
      case PoolMode::kWeightedMean: {
        std::fill(o, o + dim, 0.0f);
        float weight_sum = 0;
        for (size_t s = 0; s < seq; ++s) {
          if (m[s] == 0) continue;
          const float w = mode == PoolMode::kMean ? 1.0f : static_cast<float>(s + 1);
          k.add_scaled(o, h + s * dim, w, dim);
          weight_sum += w;
        }
        k.scale(o, 1.0f / std::max(weight_sum, 1e-9f), dim);
        break;
      }
      case PoolMode::kMax: {
        std::fill(o, o + dim, -std::numeric_limits<float>::infinity());
        bool any_masked = seq == 0;
        for (size_t s = 0; s < seq; ++s) {
          if (m[s] == 0) {
            any_masked = true;
          } else {
            k.max_into(o, h + s * dim, dim);
          }
        }
        // sentence-transformers writes -1e9 into masked positions before taking the max.
        if (any_masked) {
          for (size_t d = 0; d < dim; ++d) o[d] = std::max(o[d], -1e9f);
        }
        break;
      }
      case PoolMode::kLastToken: {
        size_t s = seq;
        while (s > 0 && m[s - 1] == 0) --s;
        if (s == 0) {
          std::fill(o, o + dim, 0.0f);
        } else {
          std::copy(h + (s - 1) * dim, h + s * dim, o);
        }
        break;
      }
      default:
        return Status(codes::kInvalidArgument, "unknown pooling mode " + std::to_string(static_cast<int>(mode)));
    }
  }
  return Status::Ok();
}

}  // namespace

size_t TableDTypeSize(TableDType dtype) {
  switch (dtype) {
    case TableDType::kF32: return 4;
    case TableDType::kF16:
    case TableDType::kBF16: return 2;
    case TableDType::kI8: return 1;
  }
  return 0;
}

bool KernelLevelAvailable(SimdLevel level) { return KernelsFor(level) != nullptr; }

const char* ActiveSimdLevelName() {
  const SimdLevel level = ActiveSimdLevel();
  return SimdLevelName(KernelsFor(level) != nullptr ? level : SimdLevel::kScalar);
}

Status EmbeddingBag(const TableView& table, const int32_t* ids, size_t n, float* out, bool normalize) {
  return RunEmbeddingBag(ActiveKernels(), table, ids, n, out, normalize);
}

Status EmbeddingBag(SimdLevel level, const TableView& table, const int32_t* ids, size_t n, float* out,
                    bool normalize) {
  const Kernels* k = KernelsFor(level);
  if (k == nullptr) return LevelUnavailable(level);
  return RunEmbeddingBag(*k, table, ids, n, out, normalize);
}

Status PoolHidden(const float* hidden, const int64_t* mask, size_t batch, size_t seq, size_t dim, PoolMode mode,
                  float* out) {
  return RunPoolHidden(ActiveKernels(), hidden, mask, batch, seq, dim, mode, out);
}

Status PoolHidden(SimdLevel level, const float* hidden, const int64_t* mask, size_t batch, size_t seq, size_t dim,
                  PoolMode mode, float* out) {
  const Kernels* k = KernelsFor(level);
  if (k == nullptr) return LevelUnavailable(level);
  return RunPoolHidden(*k, hidden, mask, batch, seq, dim, mode, out);
}

void L2NormalizeRows(float* x, size_t rows, size_t dim) { NormalizeRows(ActiveKernels(), x, rows, dim); }

Status SemanticSearch(const float* q, size_t n, const float* c, size_t m, size_t dim, Similarity fn, size_t k,
                      size_t chunk, int threads, const std::function<bool()>& cancelled,
                      const std::function<void(size_t, size_t)>& progress, std::vector<int32_t>* index,
                      std::vector<float>* score) {
  if (chunk == 0) return Status(codes::kInvalidArgument, "semanticSearch: chunk must be at least 1");
  const size_t kk = std::min(k, m);
  using Hit = std::pair<float, int32_t>;
  // "Less" is "better": a heap under it keeps the worst hit at the front, and sort_heap leaves the best first.
  // NaN scores (from NaN inputs) rank below every number, so the order stays strict and weak. It is a total
  // order on (score, index), so the hits kept do not depend on the order rows are offered in.
  auto better = [](const Hit& a, const Hit& b) {
    const bool a_nan = std::isnan(a.first), b_nan = std::isnan(b.first);
    if (a_nan != b_nan) return b_nan;
    if (!a_nan && a.first != b.first) return a.first > b.first;
    return a.second < b.second;
  };
  // Each chunk is cut into `workers` slices; slice w is scored into worker w's own buffer and offered to its own
  // heaps, whichever pool thread runs it. The heaps are merged at the end.
  const size_t workers = std::max<size_t>(
      1, std::min(SimilarityThreads(threads), (std::min(chunk, m) + kSimilaritySlice - 1) / kSimilaritySlice));
  struct Worker {
    std::vector<std::vector<Hit>> heaps;
    std::vector<float> scores;
  };
  std::vector<Worker> ws(workers);
  for (auto& w : ws) {
    w.heaps.resize(n);
    for (auto& h : w.heaps) h.reserve(kk);
  }
  const Kernels& k_ = ActiveKernels();
  // Cosine's query norms, once for every block of every chunk.
  const std::vector<double> qn = fn == Similarity::kCosine ? RowNorms(k_, q, n, dim) : std::vector<double>();
  auto scoreBlock = [&](Worker& w, size_t j0, size_t rows) {
    w.scores.resize(n * rows);
    RunSimilarity(k_, q, n, c + j0 * dim, rows, dim, fn, false, w.scores.data(), rows,
                  qn.empty() ? nullptr : qn.data());
    for (size_t i = 0; i < n; ++i) {
      auto& h = w.heaps[i];
      const float* s = w.scores.data() + i * rows;
      size_t j = 0;
      for (; j < rows && h.size() < kk; ++j) {
        h.push_back(Hit{s[j], static_cast<int32_t>(j0 + j)});
        std::push_heap(h.begin(), h.end(), better);
      }
      // A full heap: only a score at least its worst one can enter (a tie enters on a lower index), and no NaN
      // can while the worst is a number, so one comparison per score skips the rest. With a NaN worst, every
      // score goes through `better`.
      while (j < rows) {
        const float worst = h.front().first;
        if (!std::isnan(worst))
          while (j < rows && !(s[j] >= worst)) ++j;
        if (j == rows) break;
        const Hit hit{s[j], static_cast<int32_t>(j0 + j)};
        ++j;
        if (better(hit, h.front())) {
          std::pop_heap(h.begin(), h.end(), better);
          h.back() = hit;
          std::push_heap(h.begin(), h.end(), better);
        }
      }
    }
  };
  // Scored a block of rows at a time, small enough that the block's n x rows scores are still in cache when the
  // heaps read them (a whole chunk's would go out to memory and back: 40 MB for 100 queries x 100,000 rows).
  const size_t block = std::max<size_t>(64, (256 * 1024 / sizeof(float)) / std::max<size_t>(n, 1));
  auto slice = [&](Worker& w, size_t j0, size_t rows) {
    for (size_t b0 = 0; b0 < rows; b0 += block) scoreBlock(w, j0 + b0, std::min(block, rows - b0));
  };
  for (size_t j0 = 0; j0 < m && kk > 0; j0 += chunk) {
    if (cancelled && cancelled()) return Status(codes::kAborted, "the operation was aborted");
    const size_t rows = std::min(chunk, m - j0);
    const size_t per = (rows + workers - 1) / workers;  // at most `workers` slices, slice r0 / per
    ParallelFor(workers > 1 ? &SimilarityPool() : nullptr, rows, per,
                [&](size_t r0, size_t r1) { slice(ws[r0 / per], j0 + r0, r1 - r0); });
    if (progress) progress(j0 + rows, m);
  }
  index->assign(n * kk, 0);
  score->assign(n * kk, 0.0f);
  std::vector<Hit> all;
  for (size_t i = 0; i < n; ++i) {
    all.clear();
    for (auto& w : ws) all.insert(all.end(), w.heaps[i].begin(), w.heaps[i].end());
    const size_t got = std::min(kk, all.size());
    std::partial_sort(all.begin(), all.begin() + got, all.end(), better);
    for (size_t r = 0; r < got; ++r) {
      (*index)[i * kk + r] = all[r].second;
      (*score)[i * kk + r] = all[r].first;
    }
  }
  return Status::Ok();
}

void SimilarityMatrix(const float* a, size_t n, const float* b, size_t m, size_t dim, Similarity fn, bool pairwise,
                      float* out, int threads) {
  RunSimilarityThreaded(ActiveKernels(), a, n, b, m, dim, fn, pairwise, out, threads);
}

Status SimilarityMatrix(SimdLevel level, const float* a, size_t n, const float* b, size_t m, size_t dim,
                        Similarity fn, bool pairwise, float* out, int threads) {
  const Kernels* k = KernelsFor(level);
  if (k == nullptr) return LevelUnavailable(level);
  RunSimilarityThreaded(*k, a, n, b, m, dim, fn, pairwise, out, threads);
  return Status::Ok();
}

Status L2NormalizeRows(SimdLevel level, float* x, size_t rows, size_t dim) {
  const Kernels* k = KernelsFor(level);
  if (k == nullptr) return LevelUnavailable(level);
  NormalizeRows(*k, x, rows, dim);
  return Status::Ok();
}

}  // namespace winnow::pooling
