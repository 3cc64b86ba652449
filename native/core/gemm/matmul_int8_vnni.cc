// matmul_int8.h on AVX512-VNNI (CPUs without AMX-INT8: AMD Zen 4 and later, Intel Ice Lake to Cascade Lake): the
// same packed panels and the same int32 sums as the AMX kernel, so the same bits. vpdpbusd multiplies unsigned by
// signed bytes, so A's int8 rows are shifted to unsigned (q + 128) and the shift is taken back per column:
// Σ (q + 128)·w - 128·Σ w. Both sums wrap modulo 2^32 and the true sum fits in int32 (K <= kInt8MaxK), so the
// difference is exact. Up to 12 rows x 32 columns (24 accumulators) at a time.
#include "gemm/matmul_int8.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12 warns about its own _mm512_undefined_* helpers inside intrinsics (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#define WINNOW_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

namespace winnow::gemm::internal {

namespace {

constexpr size_t kMaxRows = 12;

WINNOW_VNNI_TARGET inline __mmask16 Mask16(size_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
}

// R rows of the shifted A (row stride k_pad) times one panel into C (dequantized as the header says).
template <size_t R>
WINNOW_VNNI_TARGET void Rows(const uint8_t* a, size_t k_pad, const int8_t* panel, const Int8BlockArgs& g,
                             size_t p, size_t row0) {
  // Named accumulators, not an array: GCC 12 keeps an array's vectors moving through the stack every step.
  __m512i c0_0 = _mm512_setzero_si512(), c0_1 = c0_0, c1_0 = c0_0, c1_1 = c0_0, c2_0 = c0_0, c2_1 = c0_0, c3_0 = c0_0,
          c3_1 = c0_0, c4_0 = c0_0, c4_1 = c0_0, c5_0 = c0_0, c5_1 = c0_0, c6_0 = c0_0, c6_1 = c0_0, c7_0 = c0_0,
          c7_1 = c0_0, c8_0 = c0_0, c8_1 = c0_0, c9_0 = c0_0, c9_1 = c0_0, c10_0 = c0_0, c10_1 = c0_0, c11_0 = c0_0,
          c11_1 = c0_0;
  const int8_t* b = panel;
  for (size_t kq = 0; kq < k_pad / 4; ++kq, b += 4 * kInt8PanelCols) {
    const __m512i b0 = _mm512_loadu_si512(b);
    const __m512i b1 = _mm512_loadu_si512(b + 64);
    // Row r's quad of A times both vectors of B, when the block has that row.
#define WINNOW_VNNI_ROW(r)                                        \
    if constexpr (R > r) {                                        \
      int32_t quad;                                               \
      std::memcpy(&quad, a + r * k_pad + 4 * kq, 4);              \
      const __m512i av = _mm512_set1_epi32(quad);                 \
      c##r##_0 = _mm512_dpbusd_epi32(c##r##_0, av, b0);           \
      c##r##_1 = _mm512_dpbusd_epi32(c##r##_1, av, b1);           \
    }
    WINNOW_VNNI_ROW(0)
    WINNOW_VNNI_ROW(1)
    WINNOW_VNNI_ROW(2)
    WINNOW_VNNI_ROW(3)
    WINNOW_VNNI_ROW(4)
    WINNOW_VNNI_ROW(5)
    WINNOW_VNNI_ROW(6)
    WINNOW_VNNI_ROW(7)
    WINNOW_VNNI_ROW(8)
    WINNOW_VNNI_ROW(9)
    WINNOW_VNNI_ROW(10)
    WINNOW_VNNI_ROW(11)
#undef WINNOW_VNNI_ROW
  }
  const __m512i acc[kMaxRows][2] = {{c0_0, c0_1}, {c1_0, c1_1}, {c2_0, c2_1},   {c3_0, c3_1},   {c4_0, c4_1},
                                    {c5_0, c5_1}, {c6_0, c6_1}, {c7_0, c7_1},   {c8_0, c8_1},   {c9_0, c9_1},
                                    {c10_0, c10_1}, {c11_0, c11_1}};
  const size_t left = g.n_left - p * kInt8PanelCols;
  const __mmask16 m0 = Mask16(left), m1 = left > 16 ? Mask16(left - 16) : 0;
  const __m512i shift0 = _mm512_slli_epi32(_mm512_loadu_si512(g.col_sum + p * kInt8PanelCols), 7);
  const __m512i shift1 = _mm512_slli_epi32(_mm512_loadu_si512(g.col_sum + p * kInt8PanelCols + 16), 7);
  const float* col_scale = g.col_scale + p * kInt8PanelCols;
  const __m512 sw0 = _mm512_loadu_ps(col_scale), sw1 = _mm512_loadu_ps(col_scale + 16);
  __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
  if (g.bias) {
    bias0 = _mm512_maskz_loadu_ps(m0, g.bias + p * kInt8PanelCols);
    bias1 = _mm512_maskz_loadu_ps(m1, g.bias + p * kInt8PanelCols + 16);
  }
  float* c = g.c + p * kInt8PanelCols;
  for (size_t r = 0; r < R; ++r) {
    const __m512 s = _mm512_set1_ps(g.row_scale[row0 + r]);
    const __m512 v0 =
        _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][0], shift0)), _mm512_mul_ps(s, sw0), bias0);
    const __m512 v1 =
        _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][1], shift1)), _mm512_mul_ps(s, sw1), bias1);
    _mm512_mask_storeu_ps(c + (row0 + r) * g.ldc, m0, v0);
    _mm512_mask_storeu_ps(c + (row0 + r) * g.ldc + 16, m1, v1);
  }
}

template <size_t R>
WINNOW_VNNI_TARGET void RowsUpTo(size_t rows, const uint8_t* a, size_t k_pad, const int8_t* panel,
                                 const Int8BlockArgs& g, size_t p, size_t row0) {
  if constexpr (R > 1) {
    if (rows < R) return RowsUpTo<R - 1>(rows, a, k_pad, panel, g, p, row0);
  }
  Rows<R>(a, k_pad, panel, g, p, row0);
}

WINNOW_VNNI_TARGET void Block(const Int8BlockArgs& g) {
  // A's rows shifted to unsigned bytes: q + 128 is q with its top bit flipped.
  thread_local CacheLineVector<uint8_t> shifted;
  const size_t bytes = g.rows * g.k_pad;
  if (shifted.size() < bytes) shifted.resize(bytes);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (size_t i = 0; i < bytes; i += 64)  // k_pad is a multiple of 64
    _mm512_storeu_si512(shifted.data() + i, _mm512_xor_si512(_mm512_loadu_si512(g.a + i), flip));
  for (size_t p = 0; p < g.count; ++p) {
    const int8_t* panel = g.first + p * g.panel_stride;
    for (size_t r0 = 0; r0 < g.rows; r0 += kMaxRows) {
      const size_t rows = g.rows - r0 < kMaxRows ? g.rows - r0 : kMaxRows;
      RowsUpTo<kMaxRows>(rows, shifted.data() + r0 * g.k_pad, g.k_pad, panel, g, p, r0);
    }
  }
}

}  // namespace

Int8Kernels VnniInt8Kernels() { return {AmxInt8Kernels().quantize, &Block}; }

}  // namespace winnow::gemm::internal

#else

namespace winnow::gemm::internal {
Int8Kernels VnniInt8Kernels() { return {}; }
}  // namespace winnow::gemm::internal

#endif
