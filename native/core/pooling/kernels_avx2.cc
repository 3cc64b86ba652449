// AVX2 + FMA + F16C kernels (8 fp32 lanes). Compiled per function with target attributes; only
// called after cpu_features has confirmed the CPU and OS support them.
#include "pooling/kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>

#define WINNOW_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace winnow::pooling::internal {
namespace {

template <TableDType DT>
WINNOW_AVX2 inline __m256 Load8(const uint8_t* row, size_t d) {
  if constexpr (DT == TableDType::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row + d * 4));
  } else if constexpr (DT == TableDType::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + d * 2)));
  } else if constexpr (DT == TableDType::kBF16) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + d * 2)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  } else {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + d))));
  }
}

// Tokens are resolved in chunks; for each block of 32 dims the accumulators stay in registers
// while every token of the chunk is added in order (so each element sees the scalar order).
template <TableDType DT>
WINNOW_AVX2 void BagSum(const TableView& t, const int32_t* ids, size_t n, float* acc) {
  constexpr size_t kChunk = 64;
  const uint8_t* rows[kChunk];
  float scales[kChunk];
  const size_t dim = t.dim;
  const size_t row_bytes = dim * TableDTypeSize(DT);
  for (size_t start = 0; start < n; start += kChunk) {
    const size_t m = std::min(kChunk, n - start);
    for (size_t i = 0; i < m; ++i) {
      rows[i] = RowPtr(t, ids[start + i]);
      scales[i] = RowScale(t, ids[start + i]);
      if (row_bytes <= 4096) {
        for (size_t off = 0; off < row_bytes; off += 64) _mm_prefetch(reinterpret_cast<const char*>(rows[i]) + off, _MM_HINT_T0);
      }
    }
    size_t d = 0;
    for (; d + 32 <= dim; d += 32) {
      __m256 a0 = _mm256_loadu_ps(acc + d), a1 = _mm256_loadu_ps(acc + d + 8);
      __m256 a2 = _mm256_loadu_ps(acc + d + 16), a3 = _mm256_loadu_ps(acc + d + 24);
      for (size_t i = 0; i < m; ++i) {
        const __m256 s = _mm256_set1_ps(scales[i]);
        a0 = _mm256_fmadd_ps(Load8<DT>(rows[i], d), s, a0);
        a1 = _mm256_fmadd_ps(Load8<DT>(rows[i], d + 8), s, a1);
        a2 = _mm256_fmadd_ps(Load8<DT>(rows[i], d + 16), s, a2);
        a3 = _mm256_fmadd_ps(Load8<DT>(rows[i], d + 24), s, a3);
      }
      _mm256_storeu_ps(acc + d, a0);
      _mm256_storeu_ps(acc + d + 8, a1);
      _mm256_storeu_ps(acc + d + 16, a2);
      _mm256_storeu_ps(acc + d + 24, a3);
    }
    for (; d + 8 <= dim; d += 8) {
      __m256 a = _mm256_loadu_ps(acc + d);
      for (size_t i = 0; i < m; ++i) a = _mm256_fmadd_ps(Load8<DT>(rows[i], d), _mm256_set1_ps(scales[i]), a);
      _mm256_storeu_ps(acc + d, a);
    }
    for (; d < dim; ++d) {
      float a = acc[d];
      for (size_t i = 0; i < m; ++i) a += LoadElement<DT>(rows[i], d) * scales[i];
      acc[d] = a;
    }
  }
}

WINNOW_AVX2 void BagSumAny(const TableView& t, const int32_t* ids, size_t n, float* acc) {
  switch (t.dtype) {
    case TableDType::kF32: return BagSum<TableDType::kF32>(t, ids, n, acc);
    case TableDType::kF16: return BagSum<TableDType::kF16>(t, ids, n, acc);
    case TableDType::kBF16: return BagSum<TableDType::kBF16>(t, ids, n, acc);
    case TableDType::kI8: return BagSum<TableDType::kI8>(t, ids, n, acc);
  }
}

WINNOW_AVX2 void AddScaled(float* acc, const float* x, float a, size_t dim) {
  const __m256 va = _mm256_set1_ps(a);
  size_t d = 0;
  for (; d + 8 <= dim; d += 8) {
    _mm256_storeu_ps(acc + d, _mm256_fmadd_ps(_mm256_loadu_ps(x + d), va, _mm256_loadu_ps(acc + d)));
  }
  for (; d < dim; ++d) acc[d] += a * x[d];
}

WINNOW_AVX2 void MaxInto(float* acc, const float* x, size_t dim) {
  size_t d = 0;
  for (; d + 8 <= dim; d += 8) {
    _mm256_storeu_ps(acc + d, _mm256_max_ps(_mm256_loadu_ps(acc + d), _mm256_loadu_ps(x + d)));
  }
  for (; d < dim; ++d) acc[d] = std::max(acc[d], x[d]);
}

WINNOW_AVX2 double SumSquares(const float* x, size_t dim) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  size_t d = 0;
  for (; d + 8 <= dim; d += 8) {
    const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x + d));
    const __m256d hi = _mm256_cvtps_pd(_mm_loadu_ps(x + d + 4));
    s0 = _mm256_fmadd_pd(lo, lo, s0);
    s1 = _mm256_fmadd_pd(hi, hi, s1);
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(s0, s1));
  double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; d < dim; ++d) s += static_cast<double>(x[d]) * x[d];
  return s;
}

template <PairOp Op>
WINNOW_AVX2 inline __m256d PairStep(__m256d acc, __m256d a, __m256d b) {
  const __m256d t = _mm256_sub_pd(a, b);
  if constexpr (Op == PairOp::kSqDiff) return _mm256_fmadd_pd(t, t, acc);
  return _mm256_add_pd(acc, _mm256_andnot_pd(_mm256_set1_pd(-0.0), t));
}

template <PairOp Op>
WINNOW_AVX2 double PairSum(const float* x, const float* y, size_t dim) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  size_t d = 0;
  for (; d + 8 <= dim; d += 8) {
    s0 = PairStep<Op>(s0, _mm256_cvtps_pd(_mm_loadu_ps(x + d)), _mm256_cvtps_pd(_mm_loadu_ps(y + d)));
    s1 = PairStep<Op>(s1, _mm256_cvtps_pd(_mm_loadu_ps(x + d + 4)), _mm256_cvtps_pd(_mm_loadu_ps(y + d + 4)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(s0, s1));
  double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  return PairTail<Op>(x, y, d, dim, s);
}

// Four fp64 rows against one float row: 8 y values per step, widened once, eight independent sums.
template <PairOp Op>
WINNOW_AVX2 void Block4T(const double* a, const float* y, size_t dim, double* out) {
  __m256d acc[4][2];
  for (auto& r : acc) r[0] = r[1] = _mm256_setzero_pd();
  size_t d = 0;
  for (; d + 8 <= dim; d += 8) {
    const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(y + d));
    const __m256d hi = _mm256_cvtps_pd(_mm_loadu_ps(y + d + 4));
    for (int r = 0; r < 4; ++r) {
      const double* ar = a + r * dim + d;
      acc[r][0] = PairStep<Op>(acc[r][0], _mm256_loadu_pd(ar), lo);
      acc[r][1] = PairStep<Op>(acc[r][1], _mm256_loadu_pd(ar + 4), hi);
    }
  }
  for (int r = 0; r < 4; ++r) {
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, _mm256_add_pd(acc[r][0], acc[r][1]));
    out[r] += PairTail<Op>(a + r * dim, y, d, dim, (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]));
  }
}

WINNOW_AVX2 void Block4(int op, const double* a, const float* y, size_t dim, double* out) {
  if (static_cast<PairOp>(op) == PairOp::kSqDiff) return Block4T<PairOp::kSqDiff>(a, y, dim, out);
  Block4T<PairOp::kAbsDiff>(a, y, dim, out);
}

// dot_tiles: an R x C tile of fp32 chains, 8 lanes each (the tail through a masked load that reads 0), the lanes
// of a chain widened to fp64 and summed in one fixed order.
WINNOW_AVX2 inline __m256i TailMask8(size_t left) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<size_t>(left, 8))), lane);
}

// A chain's 8 fp32 lanes widened to fp64, the two halves added: 4 values.
WINNOW_AVX2 inline __m256d WidenHalves(__m256 v) {
  return _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

// The sum of WidenHalves' 4 values in one fixed tree: (0 + 1) + (2 + 3).
WINNOW_AVX2 inline double SumTree(__m256d w) {
  const __m128d h = _mm_hadd_pd(_mm256_castpd256_pd128(w), _mm256_extractf128_pd(w, 1));  // [0 + 1, 2 + 3]
  return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

// SumTree of four chains at once, the same adds on the same values: lane i of the result is SumTree(w[i]).
WINNOW_AVX2 inline __m256d SumTree4(const __m256d* w) {
  const __m256d h01 = _mm256_hadd_pd(w[0], w[1]);  // [w0: 0 + 1, w1: 0 + 1, w0: 2 + 3, w1: 2 + 3]
  const __m256d h23 = _mm256_hadd_pd(w[2], w[3]);
  return _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20), _mm256_permute2f128_pd(h01, h23, 0x31));
}

template <int R, int C>
struct DotTile {
  WINNOW_AVX2 static void Run(const float* a, const float* b, size_t dim, double* out, size_t ldo) {
    __m256 acc[R][C];
    WINNOW_UNROLL_TILE for (int r = 0; r < R; ++r)
      WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    for (size_t d = 0; d < dim; d += 8) {
      const bool full = d + 8 <= dim;
      const __m256i m = TailMask8(dim - d);
      __m256 bv[C];
      WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) bv[c] = full ? _mm256_loadu_ps(b + c * dim + d) : _mm256_maskload_ps(b + c * dim + d, m);
      WINNOW_UNROLL_TILE for (int r = 0; r < R; ++r) {
        const __m256 av = full ? _mm256_loadu_ps(a + r * dim + d) : _mm256_maskload_ps(a + r * dim + d, m);
        WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(av, bv[c], acc[r][c]);
      }
    }
    if constexpr (R * C % 4 == 0) {
      alignas(32) double sums[R * C];
      WINNOW_UNROLL_TILE for (int g = 0; g < R * C; g += 4) {
        __m256d w[4];
        WINNOW_UNROLL_TILE for (int i = 0; i < 4; ++i) w[i] = WidenHalves(acc[(g + i) / C][(g + i) % C]);
        _mm256_store_pd(sums + g, SumTree4(w));
      }
      WINNOW_UNROLL_TILE for (int r = 0; r < R; ++r)
        WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) out[r * ldo + c] = sums[r * C + c];
    } else {
      WINNOW_UNROLL_TILE for (int r = 0; r < R; ++r)
        WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) out[r * ldo + c] = SumTree(WidenHalves(acc[r][c]));
    }
  }
};

WINNOW_AVX2 void FinishDots(const double* s, size_t m, double na, const double* nb, float* out) {
  const __m256d vna = _mm256_set1_pd(na);
  size_t j = 0;
  for (; j + 4 <= m; j += 4) {
    __m256d v = _mm256_loadu_pd(s + j);
    if (nb != nullptr) v = _mm256_div_pd(v, _mm256_mul_pd(vna, _mm256_loadu_pd(nb + j)));
    _mm_storeu_ps(out + j, _mm256_cvtpd_ps(v));
  }
  FinishDotsFrom(j, s, m, na, nb, out);
}

WINNOW_AVX2 void Scale(float* x, float s, size_t dim) {
  const __m256 vs = _mm256_set1_ps(s);
  size_t d = 0;
  for (; d + 8 <= dim; d += 8) _mm256_storeu_ps(x + d, _mm256_mul_ps(_mm256_loadu_ps(x + d), vs));
  for (; d < dim; ++d) x[d] *= s;
}

}  // namespace

const Kernels* Avx2Kernels() {
  static const Kernels k{BagSumAny, AddScaled, MaxInto, SumSquares, Scale,
                         PairSum<PairOp::kSqDiff>, PairSum<PairOp::kAbsDiff>, Block4,
                         DotTiles<DotTile, 4, 3>, FinishDots};
  return &k;
}

}  // namespace winnow::pooling::internal

#else

namespace winnow::pooling::internal {
const Kernels* Avx2Kernels() { return nullptr; }
}  // namespace winnow::pooling::internal

#endif
