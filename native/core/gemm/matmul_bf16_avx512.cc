// matmul_bf16.h on AVX512-BF16: vdpbf16ps over 8 rows x 32 columns (16 float accumulators) at a time.
#include "gemm/matmul_bf16.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#define WINNOW_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

namespace winnow::gemm::internal {

// Shared with the AMX kernels. Rounds to nearest even as RoundToBf16 does, but flushes denormals to zero (the bf16
// products treat denormal operands as zero anyway).
WINNOW_BF16_TARGET void ConvertRowsAvx512Bf16(const float* a, size_t rows, size_t k, uint16_t* out, size_t k_pad) {
  for (size_t r = 0; r < rows; ++r) {
    const float* src = a + r * k;
    uint16_t* dst = out + r * k_pad;
    size_t j = 0;
    for (; j + 32 <= k; j += 32) {
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + j + 16), _mm512_loadu_ps(src + j));
      _mm512_storeu_si512(dst + j, reinterpret_cast<const __m512i&>(v));
    }
    for (; j < k; j += 16) {
      const size_t left = k - j < 16 ? k - j : 16;
      const __mmask16 m = static_cast<__mmask16>((1u << left) - 1u);
      const __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + j));
      _mm256_mask_storeu_epi16(dst + j, m, reinterpret_cast<const __m256i&>(v));
    }
    std::memset(dst + k, 0, (k_pad - k) * sizeof(uint16_t));
  }
}

namespace {

WINNOW_BF16_TARGET void Block(const uint16_t* a, size_t rows, size_t k_pad, const uint16_t* first,
                              size_t panel_stride, size_t count, const BlockOut& out) {
  constexpr size_t kRows = 8;
  alignas(64) float block[kBlockRows * kPanelCols];
  const size_t pairs = k_pad / 2;
  for (size_t p = 0; p < count; ++p) {
    const uint16_t* panel = first + p * panel_stride;
    // A whole block goes straight into C (sums, then the bias), any other through out.store.
    const bool whole = rows == kBlockRows && out.cols >= (p + 1) * kPanelCols;
    const float* bias = whole && out.bias ? out.bias + p * kPanelCols : nullptr;
    const __m512 b0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    const __m512 b1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
    for (size_t r0 = 0; r0 < rows; r0 += kRows) {
      __m512 acc[kRows][2];
      for (size_t r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
      const uint16_t* arow = a + r0 * k_pad;
      for (size_t kp = 0; kp < pairs; ++kp) {
        const __m512i b0 = _mm512_loadu_si512(panel + kp * 2 * kPanelCols);
        const __m512i b1 = _mm512_loadu_si512(panel + kp * 2 * kPanelCols + kPanelCols);
        for (size_t r = 0; r < kRows; ++r) {
          uint32_t pair;
          std::memcpy(&pair, arow + r * k_pad + 2 * kp, sizeof(pair));
          const __m512i av = _mm512_set1_epi32(static_cast<int>(pair));
          acc[r][0] = _mm512_dpbf16_ps(acc[r][0], reinterpret_cast<const __m512bh&>(av),
                                       reinterpret_cast<const __m512bh&>(b0));
          acc[r][1] = _mm512_dpbf16_ps(acc[r][1], reinterpret_cast<const __m512bh&>(av),
                                       reinterpret_cast<const __m512bh&>(b1));
        }
      }
      if (whole) {
        for (size_t r = 0; r < kRows; ++r) {
          float* row = out.c + (r0 + r) * out.ldc + p * kPanelCols;
          _mm512_storeu_ps(row, bias ? _mm512_add_ps(acc[r][0], b0) : acc[r][0]);
          _mm512_storeu_ps(row + 16, bias ? _mm512_add_ps(acc[r][1], b1) : acc[r][1]);
        }
        continue;
      }
      for (size_t r = 0; r < kRows; ++r) {
        _mm512_store_ps(block + (r0 + r) * kPanelCols, acc[r][0]);
        _mm512_store_ps(block + (r0 + r) * kPanelCols + 16, acc[r][1]);
      }
    }
    if (!whole) out.store(out.ctx, p, block);
  }
}

}  // namespace

Kernels Avx512Bf16Kernels() { return {&ConvertRowsAvx512Bf16, &Block}; }

}  // namespace winnow::gemm::internal

#else

namespace winnow::gemm::internal {
Kernels Avx512Bf16Kernels() { return {}; }
}  // namespace winnow::gemm::internal

#endif
