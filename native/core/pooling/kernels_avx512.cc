// AVX-512 (F, BW, VL, DQ) kernels: 16 fp32 lanes, masked loads/stores for ragged tails.
// Compiled per function with target attributes; only called after cpu_features has confirmed
// the CPU and OS (opmask + ZMM state) support them.
#include "pooling/kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12 warns about its own _mm512_undefined_* helpers inside masked intrinsics (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>

#define WINNOW_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))

namespace winnow::pooling::internal {
namespace {

WINNOW_AVX512 inline __mmask16 TailMask(size_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
}

// 16 elements from row[d..d+16), lanes outside `m` read nothing and come back as 0.
template <TableDType DT>
WINNOW_AVX512 inline __m512 Load16(const uint8_t* row, size_t d, __mmask16 m) {
  if constexpr (DT == TableDType::kF32) {
    return _mm512_maskz_loadu_ps(m, row + d * 4);
  } else if constexpr (DT == TableDType::kF16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + d * 2));
  } else if constexpr (DT == TableDType::kBF16) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, row + d * 2));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  } else {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, row + d)));
  }
}

template <TableDType DT>
WINNOW_AVX512 inline __m512 Load16(const uint8_t* row, size_t d) {
  if constexpr (DT == TableDType::kF32) {
    return _mm512_loadu_ps(row + d * 4);
  } else if constexpr (DT == TableDType::kF16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + d * 2)));
  } else if constexpr (DT == TableDType::kBF16) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + d * 2)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  } else {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + d))));
  }
}

// Tokens are resolved in chunks; for each block of 64 dims the accumulators stay in registers
// while every token of the chunk is added in order (so each element sees the scalar order).
template <TableDType DT>
WINNOW_AVX512 void BagSum(const TableView& t, const int32_t* ids, size_t n, float* acc) {
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
    for (; d + 64 <= dim; d += 64) {
      __m512 a0 = _mm512_loadu_ps(acc + d), a1 = _mm512_loadu_ps(acc + d + 16);
      __m512 a2 = _mm512_loadu_ps(acc + d + 32), a3 = _mm512_loadu_ps(acc + d + 48);
      for (size_t i = 0; i < m; ++i) {
        const __m512 s = _mm512_set1_ps(scales[i]);
        a0 = _mm512_fmadd_ps(Load16<DT>(rows[i], d), s, a0);
        a1 = _mm512_fmadd_ps(Load16<DT>(rows[i], d + 16), s, a1);
        a2 = _mm512_fmadd_ps(Load16<DT>(rows[i], d + 32), s, a2);
        a3 = _mm512_fmadd_ps(Load16<DT>(rows[i], d + 48), s, a3);
      }
      _mm512_storeu_ps(acc + d, a0);
      _mm512_storeu_ps(acc + d + 16, a1);
      _mm512_storeu_ps(acc + d + 32, a2);
      _mm512_storeu_ps(acc + d + 48, a3);
    }
    for (; d < dim; d += 16) {
      const __mmask16 mask = TailMask(dim - d);
      __m512 a = _mm512_maskz_loadu_ps(mask, acc + d);
      for (size_t i = 0; i < m; ++i) a = _mm512_fmadd_ps(Load16<DT>(rows[i], d, mask), _mm512_set1_ps(scales[i]), a);
      _mm512_mask_storeu_ps(acc + d, mask, a);
    }
  }
}

WINNOW_AVX512 void BagSumAny(const TableView& t, const int32_t* ids, size_t n, float* acc) {
  switch (t.dtype) {
    case TableDType::kF32: return BagSum<TableDType::kF32>(t, ids, n, acc);
    case TableDType::kF16: return BagSum<TableDType::kF16>(t, ids, n, acc);
    case TableDType::kBF16: return BagSum<TableDType::kBF16>(t, ids, n, acc);
    case TableDType::kI8: return BagSum<TableDType::kI8>(t, ids, n, acc);
  }
}

WINNOW_AVX512 void AddScaled(float* acc, const float* x, float a, size_t dim) {
  const __m512 va = _mm512_set1_ps(a);
  for (size_t d = 0; d < dim; d += 16) {
    const __mmask16 m = TailMask(dim - d);
    const __m512 r = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + d), va, _mm512_maskz_loadu_ps(m, acc + d));
    _mm512_mask_storeu_ps(acc + d, m, r);
  }
}

WINNOW_AVX512 void MaxInto(float* acc, const float* x, size_t dim) {
  for (size_t d = 0; d < dim; d += 16) {
    const __mmask16 m = TailMask(dim - d);
    const __m512 r = _mm512_max_ps(_mm512_maskz_loadu_ps(m, acc + d), _mm512_maskz_loadu_ps(m, x + d));
    _mm512_mask_storeu_ps(acc + d, m, r);
  }
}

WINNOW_AVX512 double SumSquares(const float* x, size_t dim) {
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  for (size_t d = 0; d < dim; d += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(TailMask(dim - d), x + d);
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    s0 = _mm512_fmadd_pd(lo, lo, s0);
    s1 = _mm512_fmadd_pd(hi, hi, s1);
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

template <PairOp Op>
WINNOW_AVX512 inline __m512d PairStep(__m512d acc, __m512d a, __m512d b) {
  const __m512d t = _mm512_sub_pd(a, b);
  if constexpr (Op == PairOp::kSqDiff) return _mm512_fmadd_pd(t, t, acc);
  return _mm512_add_pd(acc, _mm512_abs_pd(t));
}

// 16 floats per step, widened to two fp64 halves (two steps per iteration: four independent sums); masked
// lanes read 0 on both sides and add 0.
template <PairOp Op>
WINNOW_AVX512 inline void PairStep16(const float* x, const float* y, size_t left, __m512d* s0, __m512d* s1) {
  const __mmask16 m = TailMask(left);
  const __m512 a = _mm512_maskz_loadu_ps(m, x);
  const __m512 b = _mm512_maskz_loadu_ps(m, y);
  *s0 = PairStep<Op>(*s0, _mm512_cvtps_pd(_mm512_castps512_ps256(a)), _mm512_cvtps_pd(_mm512_castps512_ps256(b)));
  *s1 = PairStep<Op>(*s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1))),
                     _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(b), 1))));
}

template <PairOp Op>
WINNOW_AVX512 double PairSum(const float* x, const float* y, size_t dim) {
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), s2 = _mm512_setzero_pd(), s3 = _mm512_setzero_pd();
  size_t d = 0;
  for (; d + 32 <= dim; d += 32) {
    PairStep16<Op>(x + d, y + d, 16, &s0, &s1);
    PairStep16<Op>(x + d + 16, y + d + 16, 16, &s2, &s3);
  }
  for (; d < dim; d += 16) PairStep16<Op>(x + d, y + d, dim - d, &s0, &s1);
  return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
}

// Four fp64 rows against one float row: 16 y values per step, widened once, eight independent sums.
template <PairOp Op>
WINNOW_AVX512 void Block4T(const double* a, const float* y, size_t dim, double* out) {
  __m512d acc[4][2];
  for (auto& r : acc) r[0] = r[1] = _mm512_setzero_pd();
  for (size_t d = 0; d < dim; d += 16) {
    const __mmask16 m = TailMask(dim - d);
    const __mmask8 mlo = static_cast<__mmask8>(m & 0xff), mhi = static_cast<__mmask8>(m >> 8);
    const __m512 v = _mm512_maskz_loadu_ps(m, y + d);
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    for (int r = 0; r < 4; ++r) {
      const double* ar = a + r * dim + d;
      acc[r][0] = PairStep<Op>(acc[r][0], _mm512_maskz_loadu_pd(mlo, ar), lo);
      acc[r][1] = PairStep<Op>(acc[r][1], _mm512_maskz_loadu_pd(mhi, ar + 8), hi);
    }
  }
  for (int r = 0; r < 4; ++r) out[r] += _mm512_reduce_add_pd(_mm512_add_pd(acc[r][0], acc[r][1]));
}

WINNOW_AVX512 void Block4(int op, const double* a, const float* y, size_t dim, double* out) {
  if (static_cast<PairOp>(op) == PairOp::kSqDiff) return Block4T<PairOp::kSqDiff>(a, y, dim, out);
  Block4T<PairOp::kAbsDiff>(a, y, dim, out);
}

// A chain's 16 fp32 lanes widened to fp64, the two halves added: 8 values.
WINNOW_AVX512 inline __m512d WidenHalves(__m512 v) {
  return _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)),
                       _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

// The sum of WidenHalves' 8 values in one fixed tree: lanes j and j + 4, then j and j + 2, then the last two.
WINNOW_AVX512 inline double SumTree(__m512d w) {
  const __m256d t4 = _mm256_add_pd(_mm512_castpd512_pd256(w), _mm512_extractf64x4_pd(w, 1));
  const __m128d t2 = _mm_add_pd(_mm256_castpd256_pd128(t4), _mm256_extractf128_pd(t4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(t2, _mm_unpackhi_pd(t2, t2)));
}

// SumTree of eight chains at once, the same adds on the same values (so the same bits), with shuffles between
// them instead of one chain at a time. Lane i of the result is SumTree(w[i]).
WINNOW_AVX512 inline __m512d SumTree8(const __m512d* w) {
  // Fed in the order the last step interleaves them: lane i of the result comes from its input (i % 2) * 4 + i / 2.
  const __m512d v[8] = {w[0], w[2], w[4], w[6], w[1], w[3], w[5], w[7]};
  __m512d t4[4], t2[2];
  for (int p = 0; p < 4; ++p)  // [lanes j + lanes j + 4 of v[2p] | the same of v[2p + 1]]
    t4[p] = _mm512_add_pd(_mm512_shuffle_f64x2(v[2 * p], v[2 * p + 1], 0x44),
                          _mm512_shuffle_f64x2(v[2 * p], v[2 * p + 1], 0xEE));
  for (int p = 0; p < 2; ++p)  // [t2 of v[4p], v[4p + 1], v[4p + 2], v[4p + 3]], two lanes each
    t2[p] = _mm512_add_pd(_mm512_shuffle_f64x2(t4[2 * p], t4[2 * p + 1], 0x88),
                          _mm512_shuffle_f64x2(t4[2 * p], t4[2 * p + 1], 0xDD));
  return _mm512_add_pd(_mm512_unpacklo_pd(t2[0], t2[1]), _mm512_unpackhi_pd(t2[0], t2[1]));
}

// dot_tiles: an R x C tile of fp32 chains, 16 lanes each (masked tail reads 0), the lanes of a chain widened to
// fp64 and summed in one fixed order (SumTree; eight chains at a time through SumTree8 where the tile has them).
template <int R, int C>
struct DotTile {
  WINNOW_AVX512 static void Run(const float* a, const float* b, size_t dim, double* out, size_t ldo) {
    __m512 acc[R][C];
    WINNOW_UNROLL_TILE for (int r = 0; r < R; ++r)
      WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    // Whole steps with plain loads, then the ragged tail through masked loads that read 0 (the same sums).
    auto step = [&](size_t d, __mmask16 m, bool whole) WINNOW_AVX512 {
      __m512 bv[C];
      WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c)
        bv[c] = whole ? _mm512_loadu_ps(b + c * dim + d) : _mm512_maskz_loadu_ps(m, b + c * dim + d);
      WINNOW_UNROLL_TILE for (int r = 0; r < R; ++r) {
        const __m512 av = whole ? _mm512_loadu_ps(a + r * dim + d) : _mm512_maskz_loadu_ps(m, a + r * dim + d);
        WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(av, bv[c], acc[r][c]);
      }
    };
    size_t d = 0;
    for (; d + 16 <= dim; d += 16) step(d, 0xffff, true);
    if (d < dim) step(d, TailMask(dim - d), false);
    if constexpr (R * C % 8 == 0) {
      alignas(64) double sums[R * C];
      WINNOW_UNROLL_TILE for (int g = 0; g < R * C; g += 8) {
        __m512d w[8];
        WINNOW_UNROLL_TILE for (int i = 0; i < 8; ++i) w[i] = WidenHalves(acc[(g + i) / C][(g + i) % C]);
        _mm512_store_pd(sums + g, SumTree8(w));
      }
      WINNOW_UNROLL_TILE for (int r = 0; r < R; ++r)
        WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) out[r * ldo + c] = sums[r * C + c];
    } else {
      WINNOW_UNROLL_TILE for (int r = 0; r < R; ++r)
        WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) out[r * ldo + c] = SumTree(WidenHalves(acc[r][c]));
    }
  }
};

WINNOW_AVX512 void FinishDots(const double* s, size_t m, double na, const double* nb, float* out) {
  const __m512d vna = _mm512_set1_pd(na);
  for (size_t j = 0; j < m; j += 8) {
    const __mmask8 k = static_cast<__mmask8>(TailMask(m - j));
    __m512d v = _mm512_maskz_loadu_pd(k, s + j);
    if (nb != nullptr) v = _mm512_div_pd(v, _mm512_mul_pd(vna, _mm512_mask_loadu_pd(vna, k, nb + j)));
    _mm256_mask_storeu_ps(out + j, k, _mm512_cvtpd_ps(v));
  }
}

WINNOW_AVX512 void Scale(float* x, float s, size_t dim) {
  const __m512 vs = _mm512_set1_ps(s);
  for (size_t d = 0; d < dim; d += 16) {
    const __mmask16 m = TailMask(dim - d);
    _mm512_mask_storeu_ps(x + d, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + d), vs));
  }
}

}  // namespace

const Kernels* Avx512Kernels() {
  static const Kernels k{BagSumAny, AddScaled, MaxInto, SumSquares, Scale,
                         PairSum<PairOp::kSqDiff>, PairSum<PairOp::kAbsDiff>, Block4,
                         DotTiles<DotTile, 4, 4>, FinishDots};
  return &k;
}

}  // namespace winnow::pooling::internal

#else

namespace winnow::pooling::internal {
const Kernels* Avx512Kernels() { return nullptr; }
}  // namespace winnow::pooling::internal

#endif
