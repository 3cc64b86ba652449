// gelu.h at AVX-512: 16 floats per vector.
#include "gelu/gelu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12 warns about its own _mm512_undefined_* helpers inside masked intrinsics (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#define WINNOW_GELU_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

namespace winnow::gelu::internal {
namespace {

struct V512 {
  using T = __m512;
  static constexpr size_t kLanes = 16;
  WINNOW_GELU_TARGET static __mmask16 Mask(size_t left) {
    return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
  }
  WINNOW_GELU_TARGET static T Set1(float v) { return _mm512_set1_ps(v); }
  WINNOW_GELU_TARGET static T Load(const float* p, size_t left) {
    return left >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(Mask(left), p);
  }
  WINNOW_GELU_TARGET static void Store(float* p, T v, size_t left) {
    if (left >= 16) _mm512_storeu_ps(p, v);
    else _mm512_mask_storeu_ps(p, Mask(left), v);
  }
  WINNOW_GELU_TARGET static T Add(T a, T b) { return _mm512_add_ps(a, b); }
  WINNOW_GELU_TARGET static T Sub(T a, T b) { return _mm512_sub_ps(a, b); }
  WINNOW_GELU_TARGET static T Mul(T a, T b) { return _mm512_mul_ps(a, b); }
  WINNOW_GELU_TARGET static T Div(T a, T b) { return _mm512_div_ps(a, b); }
  // a / b from a 14-bit reciprocal and one Newton step (a few ulp; vdivps is slow to issue).
  WINNOW_GELU_TARGET static T Quot(T a, T b) {
    const T r = _mm512_rcp14_ps(b);
    return _mm512_mul_ps(a, _mm512_fmadd_ps(r, _mm512_fnmadd_ps(b, r, _mm512_set1_ps(1.0f)), r));
  }
  WINNOW_GELU_TARGET static T Fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  WINNOW_GELU_TARGET static T Min(T a, T b) { return _mm512_min_ps(a, b); }
  WINNOW_GELU_TARGET static T Max(T a, T b) { return _mm512_max_ps(a, b); }
  WINNOW_GELU_TARGET static T Pow2(T k) {
    const __m512i n = _mm512_sub_epi32(_mm512_castps_si512(k), _mm512_set1_epi32(0x4B400000 - 127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(n, 23));
  }
};

#include "gelu/gelu_simd.inc"

WINNOW_GELU_TARGET void Run512(const Rows& r, size_t begin, size_t end) { GeluMath<V512>::Run(r, begin, end); }

}  // namespace

Kernels Avx512Kernels() { return {&Run512}; }

}  // namespace winnow::gelu::internal

#else

namespace winnow::gelu::internal {
Kernels Avx512Kernels() { return {}; }
}  // namespace winnow::gelu::internal

#endif
