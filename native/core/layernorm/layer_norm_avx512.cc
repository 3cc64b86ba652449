// layer_norm.h at AVX-512: 16 rows per vector. Built with -ffp-contract=off (no FMA may replace a mul + add).
#include "layernorm/layer_norm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12 warns about its own _mm512_undefined_* helpers inside masked intrinsics (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "common/transpose_avx512.h"

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
  WINNOW_LN_TARGET static void Transpose(T r[16]) { simd::Transpose16(r); }
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
