// layer_norm.h at AVX2: 8 rows per vector. Built with -ffp-contract=off (no FMA may replace a mul + add).
#include "layernorm/layer_norm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "common/transpose_avx2.h"

#define WINNOW_LN_TARGET __attribute__((target("avx2")))

namespace winnow::layernorm::internal {
namespace {

struct V256 {
  using T = __m256;
  static constexpr size_t kLanes = 8;
  WINNOW_LN_TARGET static __m256i Mask(size_t left) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left < 8 ? left : 8)), lane);
  }
  WINNOW_LN_TARGET static T Zero() { return _mm256_setzero_ps(); }
  WINNOW_LN_TARGET static T Set1(float v) { return _mm256_set1_ps(v); }
  WINNOW_LN_TARGET static T Load(const float* p, size_t left) {
    return left >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, Mask(left));
  }
  WINNOW_LN_TARGET static void Store(float* p, T v, size_t left) {
    if (left >= 8) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, Mask(left), v);
  }
  WINNOW_LN_TARGET static T Add(T a, T b) { return _mm256_add_ps(a, b); }
  WINNOW_LN_TARGET static T Sub(T a, T b) { return _mm256_sub_ps(a, b); }
  WINNOW_LN_TARGET static T Mul(T a, T b) { return _mm256_mul_ps(a, b); }
  WINNOW_LN_TARGET static T Div(T a, T b) { return _mm256_div_ps(a, b); }
  WINNOW_LN_TARGET static T Sqrt(T a) { return _mm256_sqrt_ps(a); }
  WINNOW_LN_TARGET static void Transpose(T r[8]) { simd::Transpose8(r); }
};

#include "layernorm/layer_norm_simd.inc"

WINNOW_LN_TARGET void Run256(const Rows& r, size_t begin, size_t end) { Welford<V256>::Run(r, begin, end); }

}  // namespace

Kernel Avx2Kernel() { return &Run256; }

}  // namespace winnow::layernorm::internal

#else

namespace winnow::layernorm::internal {
Kernel Avx2Kernel() { return nullptr; }
}  // namespace winnow::layernorm::internal

#endif
