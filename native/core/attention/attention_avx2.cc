// attention.h at AVX2 (with FMA): 8 lanes.
#include "attention/attention.h"

#include <algorithm>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "common/transpose_avx2.h"

#define WINNOW_ATTN_TARGET __attribute__((target("avx2,fma")))

namespace winnow::attention::internal {
namespace {

struct V256 {
  using T = __m256;
  static constexpr size_t kLanes = 8;
  static constexpr size_t kScoreVecs = 2;  // 4 rows x 16 keys: 8 accumulators of 16 registers
  static constexpr size_t kPvVecs = 2;     // 4 rows x 16 columns
  static constexpr size_t kGroupRows = 4;
  static constexpr bool kBlockTranspose = true;  // Transpose below
  WINNOW_ATTN_TARGET static void Transpose(T r[8]) { simd::Transpose8(r); }
  WINNOW_ATTN_TARGET static __m256i Mask(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  WINNOW_ATTN_TARGET static T Zero() { return _mm256_setzero_ps(); }
  WINNOW_ATTN_TARGET static T Set1(float v) { return _mm256_set1_ps(v); }
  WINNOW_ATTN_TARGET static T Load(const float* p) { return _mm256_loadu_ps(p); }
  WINNOW_ATTN_TARGET static T LoadN(const float* p, size_t n) {
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, Mask(n));
  }
  WINNOW_ATTN_TARGET static void Store(float* p, T v) { _mm256_storeu_ps(p, v); }
  WINNOW_ATTN_TARGET static void StoreN(float* p, T v, size_t n) {
    if (n >= 8) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, Mask(n), v);
  }
  WINNOW_ATTN_TARGET static T Add(T a, T b) { return _mm256_add_ps(a, b); }
  WINNOW_ATTN_TARGET static T Sub(T a, T b) { return _mm256_sub_ps(a, b); }
  WINNOW_ATTN_TARGET static T Mul(T a, T b) { return _mm256_mul_ps(a, b); }
  WINNOW_ATTN_TARGET static T Fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  WINNOW_ATTN_TARGET static T Max(T a, T b) { return _mm256_max_ps(a, b); }
  WINNOW_ATTN_TARGET static T Min(T a, T b) { return _mm256_min_ps(a, b); }
  WINNOW_ATTN_TARGET static T Floor(T a) { return _mm256_floor_ps(a); }
  WINNOW_ATTN_TARGET static T Pow2(T f) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  WINNOW_ATTN_TARGET static T MaxN(T a, T b, size_t n) {
    return _mm256_blendv_ps(a, _mm256_max_ps(a, b), _mm256_castsi256_ps(Mask(n)));
  }
  WINNOW_ATTN_TARGET static T KeepN(T a, size_t n) { return _mm256_and_ps(a, _mm256_castsi256_ps(Mask(n))); }
  // 2^x for x <= 0: x = k + f with k = round(x), |f| <= 1/2; 2^f by the AVX-512 kernel's degree-5 polynomial
  // (relative error below 3e-7), times 2^k built in the exponent bits. x is first clamped to -126, so that far below
  // gives about 1e-38 (as Exp does), which no sum of probabilities can see.
  WINNOW_ATTN_TARGET static T Exp2(T x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-126.0f));
    const T k = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const T f = _mm256_sub_ps(x, k);
    T y = _mm256_set1_ps(1.327647129073739e-3f);
    y = _mm256_fmadd_ps(y, f, _mm256_set1_ps(9.675541892647743e-3f));
    y = _mm256_fmadd_ps(y, f, _mm256_set1_ps(5.550713092088699e-2f));
    y = _mm256_fmadd_ps(y, f, _mm256_set1_ps(2.4022120237350464e-1f));
    y = _mm256_fmadd_ps(y, f, _mm256_set1_ps(6.931469440460205e-1f));
    y = _mm256_fmadd_ps(y, f, _mm256_set1_ps(1.0000001192092896f));
    return _mm256_mul_ps(y, Pow2(k));
  }
  WINNOW_ATTN_TARGET static float ReduceAdd(T a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
  }
  WINNOW_ATTN_TARGET static float ReduceMax(T a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps(s, s, 1)));
  }
};

#include "attention/attention_simd.inc"

WINNOW_ATTN_TARGET void Run256(const Problem& p, const Block& blk) { Attn<V256>::Run(p, blk); }

}  // namespace

Kernel Avx2Kernel() { return &Run256; }

}  // namespace winnow::attention::internal

#else

namespace winnow::attention::internal {
Kernel Avx2Kernel() { return nullptr; }
}  // namespace winnow::attention::internal

#endif
