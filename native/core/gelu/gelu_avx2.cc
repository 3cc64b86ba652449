// gelu.h at AVX2 (+ FMA): 8 floats per vector.
#include "gelu/gelu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define WINNOW_GELU_TARGET __attribute__((target("avx2,fma")))

namespace winnow::gelu::internal {
namespace {

struct V256 {
  using T = __m256;
  static constexpr size_t kLanes = 8;
  WINNOW_GELU_TARGET static __m256i Mask(size_t left) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left < 8 ? left : 8)), lane);
  }
  WINNOW_GELU_TARGET static T Set1(float v) { return _mm256_set1_ps(v); }
  WINNOW_GELU_TARGET static T Load(const float* p, size_t left) {
    return left >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, Mask(left));
  }
  WINNOW_GELU_TARGET static void Store(float* p, T v, size_t left) {
    if (left >= 8) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, Mask(left), v);
  }
  WINNOW_GELU_TARGET static T Add(T a, T b) { return _mm256_add_ps(a, b); }
  WINNOW_GELU_TARGET static T Sub(T a, T b) { return _mm256_sub_ps(a, b); }
  WINNOW_GELU_TARGET static T Mul(T a, T b) { return _mm256_mul_ps(a, b); }
  WINNOW_GELU_TARGET static T Div(T a, T b) { return _mm256_div_ps(a, b); }
  WINNOW_GELU_TARGET static T Quot(T a, T b) { return _mm256_div_ps(a, b); }
  WINNOW_GELU_TARGET static T Fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  WINNOW_GELU_TARGET static T Min(T a, T b) { return _mm256_min_ps(a, b); }
  WINNOW_GELU_TARGET static T Max(T a, T b) { return _mm256_max_ps(a, b); }
  WINNOW_GELU_TARGET static T Pow2(T k) {
    const __m256i n = _mm256_sub_epi32(_mm256_castps_si256(k), _mm256_set1_epi32(0x4B400000 - 127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(n, 23));
  }
};

#include "gelu/gelu_simd.inc"

WINNOW_GELU_TARGET void Run256(const Rows& r, size_t begin, size_t end) { GeluMath<V256>::Run(r, begin, end); }

}  // namespace

Kernels Avx2Kernels() { return {&Run256}; }

}  // namespace winnow::gelu::internal

#else

namespace winnow::gelu::internal {
Kernels Avx2Kernels() { return {}; }
}  // namespace winnow::gelu::internal

#endif
