// layer_norm.h at AVX-512: 16 rows per vector. Built with -ffp-contract=off (no FMA may replace a mul + add).
#include "layernorm/layer_norm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12 warns about its own _mm512_undefined_* helpers inside masked intrinsics (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#define WINNOW_LN_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2")))

namespace winnow::layernorm::internal {
namespace {

struct V512 {
  using T = __m512;
  static constexpr size_t kLanes = 16;
  WINNOW_LN_TARGET static __mmask16 Mask(size_t left) {
    return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
  }
  WINNOW_LN_TARGET static T Zero() { return _mm512_setzero_ps(); }
  WINNOW_LN_TARGET static T Set1(float v) { return _mm512_set1_ps(v); }
  WINNOW_LN_TARGET static T Load(const float* p, size_t left) { return _mm512_maskz_loadu_ps(Mask(left), p); }
  WINNOW_LN_TARGET static void Store(float* p, T v, size_t left) { _mm512_mask_storeu_ps(p, Mask(left), v); }
  WINNOW_LN_TARGET static T Add(T a, T b) { return _mm512_add_ps(a, b); }
  WINNOW_LN_TARGET static T Sub(T a, T b) { return _mm512_sub_ps(a, b); }
  WINNOW_LN_TARGET static T Mul(T a, T b) { return _mm512_mul_ps(a, b); }
  WINNOW_LN_TARGET static T Div(T a, T b) { return _mm512_div_ps(a, b); }
  WINNOW_LN_TARGET static T Sqrt(T a) { return _mm512_sqrt_ps(a); }
  // 16 x 16: pairs of rows interleaved, then quads (as doubles), then the 128-bit lanes gathered across quads.
  WINNOW_LN_TARGET static void Transpose(T r[16]) {
    T t[16];
    for (int p = 0; p < 8; ++p) {
      t[2 * p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
      t[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
    }
    T u[16];
    for (int q = 0; q < 4; ++q) {
      const __m512d a = _mm512_castps_pd(t[4 * q]), b = _mm512_castps_pd(t[4 * q + 1]);
      const __m512d c = _mm512_castps_pd(t[4 * q + 2]), d = _mm512_castps_pd(t[4 * q + 3]);
      u[4 * q + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
      u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
      u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
      u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int c = 0; c < 4; ++c) {
      const T v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
      const T w0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44), w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
      r[c] = _mm512_shuffle_f32x4(v0, w0, 0x88);
      r[c + 4] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
      r[c + 8] = _mm512_shuffle_f32x4(v1, w1, 0x88);
      r[c + 12] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
    }
  }
};

#include "layernorm/layer_norm_simd.inc"

WINNOW_LN_TARGET void Run512(const Rows& r, size_t begin, size_t end) { Welford<V512>::Run(r, begin, end); }

}  // namespace

Kernel Avx512Kernel() { return &Run512; }

}  // namespace winnow::layernorm::internal

#else

namespace winnow::layernorm::internal {
Kernel Avx512Kernel() { return nullptr; }
}  // namespace winnow::layernorm::internal

#endif
