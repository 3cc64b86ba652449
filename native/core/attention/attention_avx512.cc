// attention.h at AVX-512 (with FMA): 16 lanes.
#include "attention/attention.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12 warns about its own _mm512_undefined_* helpers inside masked intrinsics (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "common/transpose_avx512.h"

#define WINNOW_ATTN_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

namespace winnow::attention::internal {
namespace {

struct V512 {
  using T = __m512;
  static constexpr size_t kLanes = 16;
  static constexpr size_t kScoreVecs = 4;  // 4 rows x 64 keys: 16 accumulators
  static constexpr size_t kPvVecs = 4;     // 4 rows x 64 columns
  static constexpr size_t kGroupRows = 8;
  static constexpr bool kBlockTranspose = true;  // Transpose16 below
  WINNOW_ATTN_TARGET static void Transpose16(T r[16]) { simd::Transpose16(r); }
  WINNOW_ATTN_TARGET static __mmask16 Mask(size_t n) {
    return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
  }
  WINNOW_ATTN_TARGET static T Zero() { return _mm512_setzero_ps(); }
  WINNOW_ATTN_TARGET static T Set1(float v) { return _mm512_set1_ps(v); }
  WINNOW_ATTN_TARGET static T Load(const float* p) { return _mm512_loadu_ps(p); }
  WINNOW_ATTN_TARGET static T LoadN(const float* p, size_t n) {
    return n >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(Mask(n), p);
  }
  WINNOW_ATTN_TARGET static void Store(float* p, T v) { _mm512_storeu_ps(p, v); }
  WINNOW_ATTN_TARGET static void StoreN(float* p, T v, size_t n) { _mm512_mask_storeu_ps(p, Mask(n), v); }
  WINNOW_ATTN_TARGET static T Add(T a, T b) { return _mm512_add_ps(a, b); }
  WINNOW_ATTN_TARGET static T Sub(T a, T b) { return _mm512_sub_ps(a, b); }
  WINNOW_ATTN_TARGET static T Mul(T a, T b) { return _mm512_mul_ps(a, b); }
  WINNOW_ATTN_TARGET static T Fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  WINNOW_ATTN_TARGET static T Max(T a, T b) { return _mm512_max_ps(a, b); }
  WINNOW_ATTN_TARGET static T Min(T a, T b) { return _mm512_min_ps(a, b); }
  WINNOW_ATTN_TARGET static T Floor(T a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  WINNOW_ATTN_TARGET static T Pow2(T f) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  WINNOW_ATTN_TARGET static float ReduceAdd(T a) { return _mm512_reduce_add_ps(a); }
  WINNOW_ATTN_TARGET static float ReduceMax(T a) { return _mm512_reduce_max_ps(a); }
};

#include "attention/attention_simd.inc"

WINNOW_ATTN_TARGET void Run512(const Problem& p, const Block& blk) { Attn<V512>::Run(p, blk); }

}  // namespace

Kernel Avx512Kernel() { return &Run512; }

}  // namespace winnow::attention::internal

#else

namespace winnow::attention::internal {
Kernel Avx512Kernel() { return nullptr; }
}  // namespace winnow::attention::internal

#endif
