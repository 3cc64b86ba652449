// matmul_int8.h on AMX: A quantized per row with AVX-512, then tdpbssd into 2 x 2 tiles of 16 x 16 int32 (32 rows x
// 32 columns) per step, A as two 16 x 64 int8 tiles, B as two 16-quad x 16-column tiles of the packed panel; the
// int32 block dequantized and biased with AVX-512.
#include "gemm/matmul_int8.h"
#include "gemm/amx_tiles.h"

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12 warns about its own _mm512_undefined_* helpers inside intrinsics (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#define WINNOW_AMX_INT8_TARGET __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512dq")))

namespace winnow::gemm::internal {

namespace {

WINNOW_AMX_INT8_TARGET inline __mmask16 Mask16(size_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
}

// 64 int32 in four vectors (each in [-127, 127]) to 64 int8 in order: vpackssdw / vpacksswb interleave the four
// 128-bit lanes, the permute puts the dwords back.
WINNOW_AMX_INT8_TARGET inline __m512i PackTo8(__m512i i0, __m512i i1, __m512i i2, __m512i i3) {
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i bytes = _mm512_packs_epi16(_mm512_packs_epi32(i0, i1), _mm512_packs_epi32(i2, i3));
  return _mm512_permutexvar_epi32(order, bytes);
}

// Columns at..at + 16 of a row of k, those past k as 0.
WINNOW_AMX_INT8_TARGET inline __m512i QuantizeTail(const float* x, size_t k, size_t at, __m512 inv) {
  const __m512 v = _mm512_maskz_loadu_ps(Mask16(at < k ? k - at : 0), x + at);
  return _mm512_cvtps_epi32(_mm512_mul_ps(v, inv));
}

WINNOW_AMX_INT8_TARGET void Quantize(const float* a, size_t rows, size_t k, int8_t* q, size_t k_pad,
                                     float* row_scale) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  const size_t full = k / 16 * 16;
  for (size_t r = 0; r < rows; ++r) {
    const float* x = a + r * k;
    int8_t* out = q + r * k_pad;
    // max |a| on the bit patterns: for non-negative floats integer order is float order, and NaN / Inf sort last.
    __m512i m0 = _mm512_setzero_si512(), m1 = _mm512_setzero_si512();
    size_t j = 0;
    for (; j + 32 <= k; j += 32) {
      m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_loadu_si512(x + j), abs_mask));
      m1 = _mm512_max_epu32(m1, _mm512_and_si512(_mm512_loadu_si512(x + j + 16), abs_mask));
    }
    for (; j < k; j += 16)
      m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_maskz_loadu_epi32(Mask16(k - j), x + j), abs_mask));
    const uint32_t bits = _mm512_reduce_max_epu32(_mm512_max_epu32(m0, m1));
    float inv_scale;
    if (!RowScale(bits, out, k_pad, row_scale + r, &inv_scale)) continue;  // NaN / Inf (outputs NaN) or a zero row
    const __m512 inv = _mm512_set1_ps(inv_scale);
    // The clamp to [-127, 127] never binds: |a| <= amax, so |a · inv| <= 127 · (1 + 2^-24)^2 < 127.5 (and where inv
    // is capped at FLT_MAX, 127 / amax overflowed, so amax · FLT_MAX <= 127). cvtps rounds with MXCSR's nearest even.
    // Columns k..k_pad load as 0 and store the padding's zeros.
    for (j = 0; j < k_pad; j += 64) {
      if (j + 64 <= full) {
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j), inv));
        const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j + 16), inv));
        const __m512i i2 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j + 32), inv));
        const __m512i i3 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j + 48), inv));
        _mm512_storeu_si512(out + j, PackTo8(i0, i1, i2, i3));
      } else {
        _mm512_storeu_si512(out + j, PackTo8(QuantizeTail(x, k, j, inv), QuantizeTail(x, k, j + 16, inv),
                                             QuantizeTail(x, k, j + 32, inv), QuantizeTail(x, k, j + 48, inv)));
      }
    }
  }
}

WINNOW_AMX_INT8_TARGET void Block(const Int8BlockArgs& g) {
  // Configured on every call: another library on this thread (ONNX Runtime's int8 kernels) may have loaded its own.
  const TileConfig cfg = FullTiles();
  _tile_loadconfig(&cfg);
  alignas(64) int32_t acc[kInt8BlockRows * kInt8PanelCols];
  const size_t a_stride = g.k_pad, b_stride = 4 * kInt8PanelCols;
  const bool two = g.rows > 16;
  const int8_t* a0 = g.a;
  const int8_t* a1 = g.a + 16 * g.k_pad;
  for (size_t p = 0; p < g.count; ++p) {
    const int8_t* panel = g.first + p * g.panel_stride;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t kb = 0; kb < g.k_pad; kb += kInt8BlockK) {
      const int8_t* b = panel + kb * kInt8PanelCols;  // kb / 4 quad rows of 4 * kInt8PanelCols bytes
      _tile_loadd(4, a0 + kb, a_stride);
      _tile_loadd(6, b, b_stride);
      _tile_loadd(7, b + 16 * 4, b_stride);
      _tile_dpbssd(0, 4, 6);
      _tile_dpbssd(1, 4, 7);
      if (two) {
        _tile_loadd(5, a1 + kb, a_stride);
        _tile_dpbssd(2, 5, 6);
        _tile_dpbssd(3, 5, 7);
      }
    }
    const size_t c_stride = kInt8PanelCols * sizeof(int32_t);
    _tile_stored(0, acc, c_stride);
    _tile_stored(1, acc + 16, c_stride);
    if (two) {
      _tile_stored(2, acc + 16 * kInt8PanelCols, c_stride);
      _tile_stored(3, acc + 16 * kInt8PanelCols + 16, c_stride);
    }
    // C = fma(float(acc), s_i · s_w, bias or 0), the panel's valid columns.
    const size_t left = g.n_left - p * kInt8PanelCols;
    const __mmask16 m0 = Mask16(left), m1 = left > 16 ? Mask16(left - 16) : 0;
    const float* col_scale = g.col_scale + p * kInt8PanelCols;
    const __m512 sw0 = _mm512_loadu_ps(col_scale), sw1 = _mm512_loadu_ps(col_scale + 16);
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    if (g.bias) {
      const float* bias = g.bias + p * kInt8PanelCols;
      b0 = _mm512_maskz_loadu_ps(m0, bias);
      b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    }
    float* c = g.c + p * kInt8PanelCols;
    for (size_t r = 0; r < g.rows; ++r) {
      const __m512 s = _mm512_set1_ps(g.row_scale[r]);
      const int32_t* in = acc + r * kInt8PanelCols;
      const __m512 v0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(in)), _mm512_mul_ps(s, sw0), b0);
      const __m512 v1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(in + 16)), _mm512_mul_ps(s, sw1), b1);
      _mm512_mask_storeu_ps(c + r * g.ldc, m0, v0);
      _mm512_mask_storeu_ps(c + r * g.ldc + 16, m1, v1);
    }
  }
  _tile_release();
}

}  // namespace

Int8Kernels AmxInt8Kernels() { return {&Quantize, &Block}; }

}  // namespace winnow::gemm::internal

#else

namespace winnow::gemm::internal {
Int8Kernels AmxInt8Kernels() { return {}; }
}  // namespace winnow::gemm::internal

#endif
