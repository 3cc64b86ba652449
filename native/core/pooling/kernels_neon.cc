// NEON kernels (aarch64; Advanced SIMD is mandatory there, so no run-time check is needed).
#include "pooling/kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>

namespace winnow::pooling::internal {
namespace {

// 8 elements from row[d..d+8) as two float32x4_t.
template <TableDType DT>
inline void Load8(const uint8_t* row, size_t d, float32x4_t* lo, float32x4_t* hi) {
  if constexpr (DT == TableDType::kF32) {
    const float* p = reinterpret_cast<const float*>(row + d * 4);
    *lo = vld1q_f32(p);
    *hi = vld1q_f32(p + 4);
  } else if constexpr (DT == TableDType::kF16) {
    const uint16x8_t h = vld1q_u16(reinterpret_cast<const uint16_t*>(row + d * 2));
    *lo = vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h)));
    *hi = vcvt_f32_f16(vreinterpret_f16_u16(vget_high_u16(h)));
  } else if constexpr (DT == TableDType::kBF16) {
    const uint16x8_t h = vld1q_u16(reinterpret_cast<const uint16_t*>(row + d * 2));
    *lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
    *hi = vreinterpretq_f32_u32(vshll_n_u16(vget_high_u16(h), 16));
  } else {
    const int16x8_t w = vmovl_s8(vld1_s8(reinterpret_cast<const int8_t*>(row + d)));
    *lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(w)));
    *hi = vcvtq_f32_s32(vmovl_s16(vget_high_s16(w)));
  }
}

template <TableDType DT>
void BagSum(const TableView& t, const int32_t* ids, size_t n, float* acc) {
  constexpr size_t kChunk = 64;
  const uint8_t* rows[kChunk];
  float scales[kChunk];
  const size_t dim = t.dim;
  for (size_t start = 0; start < n; start += kChunk) {
    const size_t m = std::min(kChunk, n - start);
    for (size_t i = 0; i < m; ++i) {
      rows[i] = RowPtr(t, ids[start + i]);
      scales[i] = RowScale(t, ids[start + i]);
      __builtin_prefetch(rows[i]);
    }
    size_t d = 0;
    for (; d + 16 <= dim; d += 16) {
      float32x4_t a0 = vld1q_f32(acc + d), a1 = vld1q_f32(acc + d + 4);
      float32x4_t a2 = vld1q_f32(acc + d + 8), a3 = vld1q_f32(acc + d + 12);
      for (size_t i = 0; i < m; ++i) {
        float32x4_t x0, x1, x2, x3;
        Load8<DT>(rows[i], d, &x0, &x1);
        Load8<DT>(rows[i], d + 8, &x2, &x3);
        a0 = vfmaq_n_f32(a0, x0, scales[i]);
        a1 = vfmaq_n_f32(a1, x1, scales[i]);
        a2 = vfmaq_n_f32(a2, x2, scales[i]);
        a3 = vfmaq_n_f32(a3, x3, scales[i]);
      }
      vst1q_f32(acc + d, a0);
      vst1q_f32(acc + d + 4, a1);
      vst1q_f32(acc + d + 8, a2);
      vst1q_f32(acc + d + 12, a3);
    }
    for (; d + 8 <= dim; d += 8) {
      float32x4_t a0 = vld1q_f32(acc + d), a1 = vld1q_f32(acc + d + 4);
      for (size_t i = 0; i < m; ++i) {
        float32x4_t x0, x1;
        Load8<DT>(rows[i], d, &x0, &x1);
        a0 = vfmaq_n_f32(a0, x0, scales[i]);
        a1 = vfmaq_n_f32(a1, x1, scales[i]);
      }
      vst1q_f32(acc + d, a0);
      vst1q_f32(acc + d + 4, a1);
    }
    for (; d < dim; ++d) {
      float a = acc[d];
      for (size_t i = 0; i < m; ++i) a += LoadElement<DT>(rows[i], d) * scales[i];
      acc[d] = a;
    }
  }
}

void BagSumAny(const TableView& t, const int32_t* ids, size_t n, float* acc) {
  switch (t.dtype) {
    case TableDType::kF32: return BagSum<TableDType::kF32>(t, ids, n, acc);
    case TableDType::kF16: return BagSum<TableDType::kF16>(t, ids, n, acc);
    case TableDType::kBF16: return BagSum<TableDType::kBF16>(t, ids, n, acc);
    case TableDType::kI8: return BagSum<TableDType::kI8>(t, ids, n, acc);
  }
}

void AddScaled(float* acc, const float* x, float a, size_t dim) {
  size_t d = 0;
  for (; d + 4 <= dim; d += 4) vst1q_f32(acc + d, vfmaq_n_f32(vld1q_f32(acc + d), vld1q_f32(x + d), a));
  for (; d < dim; ++d) acc[d] += a * x[d];
}

void MaxInto(float* acc, const float* x, size_t dim) {
  size_t d = 0;
  for (; d + 4 <= dim; d += 4) vst1q_f32(acc + d, vmaxq_f32(vld1q_f32(acc + d), vld1q_f32(x + d)));
  for (; d < dim; ++d) acc[d] = std::max(acc[d], x[d]);
}

double SumSquares(const float* x, size_t dim) {
  float64x2_t s0 = vdupq_n_f64(0), s1 = vdupq_n_f64(0);
  size_t d = 0;
  for (; d + 4 <= dim; d += 4) {
    const float32x4_t v = vld1q_f32(x + d);
    const float64x2_t lo = vcvt_f64_f32(vget_low_f32(v));
    const float64x2_t hi = vcvt_high_f64_f32(v);
    s0 = vfmaq_f64(s0, lo, lo);
    s1 = vfmaq_f64(s1, hi, hi);
  }
  double s = vaddvq_f64(vaddq_f64(s0, s1));
  for (; d < dim; ++d) s += static_cast<double>(x[d]) * x[d];
  return s;
}

template <PairOp Op>
inline float64x2_t PairStep(float64x2_t acc, float64x2_t a, float64x2_t b) {
  const float64x2_t t = vsubq_f64(a, b);
  if constexpr (Op == PairOp::kSqDiff) return vfmaq_f64(acc, t, t);
  return vaddq_f64(acc, vabsq_f64(t));
}

template <PairOp Op>
double PairSum(const float* x, const float* y, size_t dim) {
  float64x2_t s0 = vdupq_n_f64(0), s1 = vdupq_n_f64(0);
  size_t d = 0;
  for (; d + 4 <= dim; d += 4) {
    const float32x4_t a = vld1q_f32(x + d), b = vld1q_f32(y + d);
    s0 = PairStep<Op>(s0, vcvt_f64_f32(vget_low_f32(a)), vcvt_f64_f32(vget_low_f32(b)));
    s1 = PairStep<Op>(s1, vcvt_high_f64_f32(a), vcvt_high_f64_f32(b));
  }
  double s = vaddvq_f64(vaddq_f64(s0, s1));
  return PairTail<Op>(x, y, d, dim, s);
}

// dot_tiles: an R x C tile of fp32 chains, 4 lanes each (a ragged tail copied into zeros first), the lanes of
// a chain widened to fp64 and summed in one fixed order.
inline float32x4_t Load4(const float* p, size_t left) {
  if (left >= 4) return vld1q_f32(p);
  float t[4] = {0, 0, 0, 0};
  std::copy(p, p + left, t);
  return vld1q_f32(t);
}

template <int R, int C>
struct DotTile {
  static void Run(const float* a, const float* b, size_t dim, double* out, size_t ldo) {
    float32x4_t acc[R][C];
    WINNOW_UNROLL_TILE for (int r = 0; r < R; ++r)
      WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) acc[r][c] = vdupq_n_f32(0.0f);
    // Whole steps (left is the constant 4, so Load4 is a plain load), then the ragged tail through Load4's zeros.
    auto step = [&](size_t d, size_t left) {
      float32x4_t bv[C];
      WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) bv[c] = Load4(b + c * dim + d, left);
      WINNOW_UNROLL_TILE for (int r = 0; r < R; ++r) {
        const float32x4_t av = Load4(a + r * dim + d, left);
        WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c) acc[r][c] = vfmaq_f32(acc[r][c], av, bv[c]);
      }
    };
    size_t d = 0;
    for (; d + 4 <= dim; d += 4) step(d, 4);
    if (d < dim) step(d, dim - d);
    WINNOW_UNROLL_TILE for (int r = 0; r < R; ++r)
      WINNOW_UNROLL_TILE for (int c = 0; c < C; ++c)
        out[r * ldo + c] = vaddvq_f64(vaddq_f64(vcvt_f64_f32(vget_low_f32(acc[r][c])), vcvt_high_f64_f32(acc[r][c])));
  }
};

void FinishDots(const double* s, size_t m, double na, const double* nb, float* out) {
  size_t j = 0;
  for (; j + 2 <= m; j += 2) {
    float64x2_t v = vld1q_f64(s + j);
    if (nb != nullptr) v = vdivq_f64(v, vmulq_n_f64(vld1q_f64(nb + j), na));
    vst1_f32(out + j, vcvt_f32_f64(v));
  }
  FinishDotsFrom(j, s, m, na, nb, out);
}

void Scale(float* x, float s, size_t dim) {
  size_t d = 0;
  for (; d + 4 <= dim; d += 4) vst1q_f32(x + d, vmulq_n_f32(vld1q_f32(x + d), s));
  for (; d < dim; ++d) x[d] *= s;
}

}  // namespace

const Kernels* NeonKernels() {
  static const Kernels k{BagSumAny, AddScaled, MaxInto, SumSquares, Scale,
                         PairSum<PairOp::kSqDiff>, PairSum<PairOp::kAbsDiff>, nullptr,
                         DotTiles<DotTile, 4, 4>, FinishDots};
  return &k;
}

}  // namespace winnow::pooling::internal

#else

namespace winnow::pooling::internal {
const Kernels* NeonKernels() { return nullptr; }
}  // namespace winnow::pooling::internal

#endif
