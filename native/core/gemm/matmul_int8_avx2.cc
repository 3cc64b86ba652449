// matmul_int8.h on AVX2 (CPUs without AMX-INT8 or AVX512-VNNI: AMD Zen 2 / Zen 3, Intel Haswell to Skylake): the same
// int32 sums as the AMX kernel, so the same bits. B's panels are widened to int16 pairs (matmul_int8.h), A's rows as
// each task runs, and vpmaddwd adds each pair of products straight into int32: nothing is summed in int16, so
// nothing saturates (ONNX Runtime's u8 x s8 kernel without VNNI adds pairs in int16 and can). The sign trick on
// vpmaddubsw (|q| times w · sign(q)) would keep B in bytes, but its vpsignb costs a third more time on AMD Zen 3.
// 4 rows x 16 columns (8 accumulators) at a time.
#include "gemm/matmul_int8.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#define WINNOW_AVX2_INT8_TARGET __attribute__((target("avx2,fma")))

namespace winnow::gemm::internal {

namespace {

constexpr size_t kRows = 6;  // Rows handles up to 6

// 32 int32 in four vectors (each in [-127, 127]) to 32 int8 in order: the packs work per 128-bit lane, the permute
// puts the dwords back.
WINNOW_AVX2_INT8_TARGET inline __m256i PackTo8(__m256i i0, __m256i i1, __m256i i2, __m256i i3) {
  const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Columns at..at + 8 of a row of k, those past k as 0.
WINNOW_AVX2_INT8_TARGET inline __m256i QuantizeTail(const float* x, size_t k, size_t at, __m256 inv) {
  alignas(32) float v[8] = {};
  if (at < k) std::memcpy(v, x + at, std::min<size_t>(8, k - at) * sizeof(float));
  return _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_load_ps(v), inv));
}

// As the AMX kernel's quantizer (matmul_int8_amx.cc), on 8 lanes: the same scale, the same rounding, the same bytes.
WINNOW_AVX2_INT8_TARGET void Quantize(const float* a, size_t rows, size_t k, int8_t* q, size_t k_pad,
                                      float* row_scale) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
  const size_t full = k / 8 * 8;
  for (size_t r = 0; r < rows; ++r) {
    const float* x = a + r * k;
    int8_t* out = q + r * k_pad;
    // max |a| on the bit patterns: for non-negative floats integer order is float order, and NaN / Inf sort last.
    __m256i m0 = _mm256_setzero_si256(), m1 = _mm256_setzero_si256();
    size_t j = 0;
    for (; j + 16 <= k; j += 16) {
      m0 = _mm256_max_epu32(m0, _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + j)), abs_mask));
      m1 = _mm256_max_epu32(m1, _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + j + 8)), abs_mask));
    }
    alignas(32) uint32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_max_epu32(m0, m1));
    uint32_t bits = 0;
    for (uint32_t l : lanes) bits = std::max(bits, l);
    for (; j < k; ++j) {
      uint32_t b;
      std::memcpy(&b, x + j, sizeof(b));
      bits = std::max(bits, b & 0x7fffffffu);
    }
    float inv_scale;
    if (!RowScale(bits, out, k_pad, row_scale + r, &inv_scale)) continue;  // NaN / Inf (outputs NaN) or a zero row
    const __m256 inv = _mm256_set1_ps(inv_scale);
    // The clamp to [-127, 127] never binds (matmul_int8_amx.cc says why); cvtps rounds with MXCSR's nearest even.
    // Columns k..k_pad load as 0 and store the padding's zeros.
    for (j = 0; j < k_pad; j += 32) {
      __m256i v;
      if (j + 32 <= full) {
        v = PackTo8(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), inv)),
                    _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), inv)),
                    _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), inv)),
                    _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), inv)));
      } else {
        v = PackTo8(QuantizeTail(x, k, j, inv), QuantizeTail(x, k, j + 8, inv), QuantizeTail(x, k, j + 16, inv),
                    QuantizeTail(x, k, j + 24, inv));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), v);
    }
  }
}

// Two int16 of A (one k pair) in every 32-bit lane.
WINNOW_AVX2_INT8_TARGET inline __m256i Pair(const int16_t* p) {
  int32_t pair;
  std::memcpy(&pair, p, 4);
  return _mm256_set1_epi32(pair);
}

// R (at most 6) rows of A widened to int16 (row stride k_pad) times 16 columns of one panel (from column `half` · 16) into C.
template <size_t R>
WINNOW_AVX2_INT8_TARGET void Rows(const int16_t* a, size_t k_pad, const int8_t* panel, size_t half,
                                  const Int8BlockArgs& g, size_t p, size_t row0) {
  // Named accumulators, not an array: GCC 12 keeps an array's vectors moving between registers every step.
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
          c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const int8_t* b = panel + half * 64;
  for (size_t kp = 0; kp < k_pad / 2; ++kp, b += 4 * kInt8PanelCols) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + 32));
    // Row r's pair of A times both vectors of B, when the block has that row.
#define WINNOW_INT8_ROW(r)                                                        \
    if constexpr (R > r) {                                                        \
      const __m256i av = Pair(a + r * k_pad + 2 * kp);                            \
      c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(av, b0));             \
      c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(av, b1));             \
    }
    WINNOW_INT8_ROW(0)
    WINNOW_INT8_ROW(1)
    WINNOW_INT8_ROW(2)
    WINNOW_INT8_ROW(3)
    WINNOW_INT8_ROW(4)
    WINNOW_INT8_ROW(5)
#undef WINNOW_INT8_ROW
  }
  const __m256i acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  const size_t col0 = p * kInt8PanelCols + half * 16;
  const size_t left = std::min<size_t>(16, g.n_left - col0);
  const float* col_scale = g.col_scale + col0;
  const __m256 sw0 = _mm256_loadu_ps(col_scale), sw1 = _mm256_loadu_ps(col_scale + 8);
  alignas(32) float bias[16] = {};
  if (g.bias) std::memcpy(bias, g.bias + col0, left * sizeof(float));
  const __m256 bias0 = _mm256_load_ps(bias), bias1 = _mm256_load_ps(bias + 8);
  for (size_t r = 0; r < R; ++r) {
    const __m256 s = _mm256_set1_ps(g.row_scale[row0 + r]);
    const __m256 v0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][0]), _mm256_mul_ps(s, sw0), bias0);
    const __m256 v1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][1]), _mm256_mul_ps(s, sw1), bias1);
    float* c = g.c + (row0 + r) * g.ldc + col0;
    if (left == 16) {
      _mm256_storeu_ps(c, v0);
      _mm256_storeu_ps(c + 8, v1);
    } else {
      alignas(32) float out[16];
      _mm256_store_ps(out, v0);
      _mm256_store_ps(out + 8, v1);
      std::memcpy(c, out, left * sizeof(float));
    }
  }
}

template <size_t R>
WINNOW_AVX2_INT8_TARGET void RowsUpTo(size_t rows, const int16_t* a, size_t k_pad, const int8_t* panel, size_t half,
                                      const Int8BlockArgs& g, size_t p, size_t row0) {
  if constexpr (R > 1) {
    if (rows < R) return RowsUpTo<R - 1>(rows, a, k_pad, panel, half, g, p, row0);
  }
  Rows<R>(a, k_pad, panel, half, g, p, row0);
}

WINNOW_AVX2_INT8_TARGET void Block(const Int8BlockArgs& g) {
  // A's rows widened to int16, the other operand of vpmaddwd.
  thread_local CacheLineVector<int16_t> wide;
  const size_t count = g.rows * g.k_pad;
  if (wide.size() < count) wide.resize(count);
  for (size_t i = 0; i < count; i += 16)  // k_pad is a multiple of 64
    _mm256_store_si256(reinterpret_cast<__m256i*>(wide.data() + i),
                       _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(g.a + i))));
  for (size_t p = 0; p < g.count; ++p) {
    const int8_t* panel = g.first + p * g.panel_stride;
    for (size_t half = 0; half < 2; ++half) {
      if (half * 16 >= g.n_left - p * kInt8PanelCols) break;  // the panel's padding columns
      for (size_t r0 = 0; r0 < g.rows; r0 += kRows) {
        const size_t rows = std::min(kRows, g.rows - r0);
        RowsUpTo<kRows>(rows, wide.data() + r0 * g.k_pad, g.k_pad, panel, half, g, p, r0);
      }
    }
  }
}

}  // namespace

Int8Kernels Avx2Int8Kernels() { return {&Quantize, &Block}; }

}  // namespace winnow::gemm::internal

#else

namespace winnow::gemm::internal {
Int8Kernels Avx2Int8Kernels() { return {}; }
}  // namespace winnow::gemm::internal

#endif
