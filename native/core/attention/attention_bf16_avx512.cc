// attention_bf16.h: the task driver (rounding to bf16, softmax, output) and the AVX512-BF16 products (vdpbf16ps,
// 4 query rows x 64 keys or 64 head columns of float32 sums at a time).
#include "attention/attention_bf16.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12 warns about its own _mm512_undefined_* helpers inside masked intrinsics (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/cache_line.h"
#include "common/transpose_avx512.h"

#define WINNOW_ATTN_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,avx512bf16")))

namespace winnow::attention::internal {
namespace {

#include "attention/attention_v512.inc"

#include "attention/attention_simd.inc"

constexpr size_t kRows = 4;  // query rows per register block of the products

WINNOW_ATTN_TARGET inline __m512bh AsBh(__m512i v) { return reinterpret_cast<const __m512bh&>(v); }

// c[r][j .. j + 16·C) (row stride c_ld) = Σ_i {a[r][2i], a[r][2i + 1]} · b[i][j ..], kRows rows of a (row stride
// a_ld bf16), `pairs` pair rows of b (b_ld pairs apart): both products are this shape.
template <size_t C>
WINNOW_ATTN_TARGET void Block(const uint16_t* a, size_t a_ld, size_t pairs, const uint32_t* b, size_t b_ld, size_t j,
                              float* c, size_t c_ld) {
  __m512 acc[kRows][C];
  for (size_t r = 0; r < kRows; ++r)
    for (size_t x = 0; x < C; ++x) acc[r][x] = _mm512_setzero_ps();
  for (size_t i = 0; i < pairs; ++i) {
    __m512i bv[C];
    for (size_t x = 0; x < C; ++x) bv[x] = _mm512_loadu_si512(b + i * b_ld + j + 16 * x);
    for (size_t r = 0; r < kRows; ++r) {
      uint32_t pair;
      std::memcpy(&pair, a + r * a_ld + 2 * i, sizeof(pair));
      const __m512bh ab = AsBh(_mm512_set1_epi32(static_cast<int>(pair)));
      for (size_t x = 0; x < C; ++x) acc[r][x] = _mm512_dpbf16_ps(acc[r][x], ab, AsBh(bv[x]));
    }
  }
  for (size_t r = 0; r < kRows; ++r)
    for (size_t x = 0; x < C; ++x) _mm512_storeu_ps(c + r * c_ld + j + 16 * x, acc[r][x]);
}

WINNOW_ATTN_TARGET void Scores(const uint16_t* q, size_t rows16, size_t dp, const uint32_t* kt, size_t np, float* s) {
  for (size_t r0 = 0; r0 < rows16; r0 += kRows) {
    size_t j = 0;
    for (; j + 64 <= np; j += 64) Block<4>(q + r0 * dp, dp, dp / 2, kt, np, j, s + r0 * np, np);
    if (j < np) Block<2>(q + r0 * dp, dp, dp / 2, kt, np, j, s + r0 * np, np);  // np is a multiple of 32
  }
}

WINNOW_ATTN_TARGET void Pv(const uint16_t* p, size_t rows16, size_t np, const uint32_t* vt, size_t dv, float* out) {
  for (size_t r0 = 0; r0 < rows16; r0 += kRows) {
    const uint16_t* pr = p + r0 * np;
    float* o = out + r0 * dv;
    for (size_t c0 = 0; c0 < dv; c0 += 64) {
      switch (std::min<size_t>(4, (dv - c0) / 16)) {
        case 4: Block<4>(pr, np, np / 2, vt, dv, c0, o, dv); break;
        case 3: Block<3>(pr, np, np / 2, vt, dv, c0, o, dv); break;
        case 2: Block<2>(pr, np, np / 2, vt, dv, c0, o, dv); break;
        default: Block<1>(pr, np, np / 2, vt, dv, c0, o, dv); break;
      }
    }
  }
}

// ---- the task driver ----

// Per-thread scratch, grown as needed and kept for the thread; 64-byte aligned, so that tile rows are cache lines.
struct Scratch {
  CacheLineVector<uint32_t> keys;
  CacheLineVector<uint16_t> q, prob, kr;  // [rows16, dp], [rows16, np], K rounded [np, dp]
  CacheLineVector<uint32_t> kt, vt;       // [dp / 2, np], [np / 2, dv]
  CacheLineVector<float> scores, out;     // [rows16, np], [rows16, dv]
};

template <class T>
T* Grow(CacheLineVector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

WINNOW_ATTN_TARGET inline __mmask16 Lanes(size_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
}

// dst[0 .. dp) = bf16(src[d] + bias[d]) for d < D, zeros after (dp a multiple of 16); bias may be nullptr.
WINNOW_ATTN_TARGET void RoundRow(const float* src, const float* bias, size_t D, uint16_t* dst, size_t dp) {
  for (size_t c = 0; c < dp; c += 16) {
    const __mmask16 m = c < D ? Lanes(D - c) : 0;
    __m512 x = _mm512_maskz_loadu_ps(m, src + c);
    if (bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, bias + c));
    const __m256bh h = _mm512_cvtneps_pbh(x);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + c), reinterpret_cast<const __m256i&>(h));
  }
}

// Rows [row0, row0 + rows) of head h of batch b (rows <= kBf16PassRows), K and V already in the scratch.
WINNOW_ATTN_TARGET void RunBlock(const Bf16Products& k, const Problem& p, Scratch& s, size_t b, size_t h, size_t row0,
                                 size_t rows, size_t n, bool uniform) {
  const size_t D = p.head_size, HD = p.heads * D;
  const size_t rows16 = (rows + 15) / 16 * 16;
  const size_t np = (n + 31) / 32 * 32, dp = (D + 31) / 32 * 32, dv = (D + 15) / 16 * 16;
  const float* bq = p.bias ? p.bias + h * D : nullptr;
  const float* bv = p.bias ? p.bias + 2 * HD + h * D : nullptr;
  uint16_t* prob = Grow(s.prob, rows16 * np);
  float inv[kBf16PassRows];
  if (uniform) {
    for (size_t r = 0; r < rows16; ++r) {
      uint16_t* pr = prob + r * np;
      for (size_t j = 0; j < np; ++j) pr[j] = r < rows && j < n ? 0x3f80 : 0;  // bf16 1.0
      if (r < rows) inv[r] = 1.0f / static_cast<float>(n);
    }
  } else {
    uint16_t* q = Grow(s.q, rows16 * dp);
    for (size_t r = 0; r < rows; ++r)
      RoundRow(p.q + (b * p.QTokens() + row0 + r) * p.q_stride + h * D, bq, D, q + r * dp, dp);
    std::memset(q + rows * dp, 0, (rows16 - rows) * dp * sizeof(uint16_t));
    float* sc = Grow(s.scores, rows16 * np);
    k.scores(q, rows16, dp, s.kt.data(), np, sc);

    // Softmax of each row in float32: e = exp(scale · s - max), the padding keys 0; e to bf16.
    const __m512 vs = _mm512_set1_ps(p.scale);
    for (size_t r = 0; r < rows; ++r) {
      float* sr = sc + r * np;
      __m512 vm = _mm512_set1_ps(-3.0e38f);
      for (size_t j = 0; j < np; j += 16) {
        const __mmask16 lanes = j < n ? Lanes(n - j) : 0;
        const __m512 scaled = _mm512_mul_ps(_mm512_loadu_ps(sr + j), vs);
        const __m512 x = _mm512_mask_mov_ps(_mm512_set1_ps(-3.0e38f), lanes, scaled);
        _mm512_storeu_ps(sr + j, x);
        vm = _mm512_max_ps(vm, x);
      }
      vm = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
      __m512 sum = _mm512_setzero_ps();
      for (size_t j = 0; j < np; j += 16) {
        const __mmask16 lanes = j < n ? Lanes(n - j) : 0;
        const __m512 e = _mm512_maskz_mov_ps(lanes, Attn<V512>::Exp(_mm512_sub_ps(_mm512_loadu_ps(sr + j), vm)));
        sum = _mm512_add_ps(sum, e);
        const __m256bh eb = _mm512_cvtneps_pbh(e);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(prob + r * np + j), reinterpret_cast<const __m256i&>(eb));
      }
      inv[r] = 1.0f / _mm512_reduce_add_ps(sum);
    }
    std::memset(prob + rows * np, 0, (rows16 - rows) * np * sizeof(uint16_t));
  }

  float* out = Grow(s.out, rows16 * dv);
  k.pv(prob, rows16, np, s.vt.data(), dv, out);
  for (size_t r = 0; r < rows; ++r) {
    float* o = p.out + (b * p.QueryRows() + row0 + r) * p.out_stride + h * D;
    const __m512 vi = _mm512_set1_ps(inv[r]);
    for (size_t c = 0; c < D; c += 16) {
      const __mmask16 lanes = Lanes(D - c);
      __m512 y = _mm512_mul_ps(_mm512_loadu_ps(out + r * dv + c), vi);
      if (bv) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(lanes, bv + c));
      _mm512_mask_storeu_ps(o + c, lanes, y);
    }
  }
}

// One task: kBlockRows query rows of head h of batch b, in passes of kBf16PassRows, K and V rounded once for them.
WINNOW_ATTN_TARGET void RunTask(const Bf16Products& k, const Problem& p, size_t task) {
  const size_t query_rows = p.QueryRows(), blocks = (query_rows + kBlockRows - 1) / kBlockRows;
  const size_t bh = task / blocks, b = bh / p.heads, h = bh % p.heads;
  const size_t row0 = (task % blocks) * kBlockRows, rows = std::min(kBlockRows, query_rows - row0);
  const size_t D = p.head_size, HD = p.heads * D, T0 = b * p.tokens;
  thread_local Scratch s;

  // The attended keys (all of them, weighted alike, when the mask leaves none).
  uint32_t* keys = Grow(s.keys, p.tokens);
  size_t n = 0;
  const int64_t* m = p.mask ? p.mask + b * p.tokens : nullptr;
  size_t t = 0;
  if (m) {
    for (; t + 8 <= p.tokens; t += 8) {
      const __m512i mv = _mm512_loadu_si512(m + t);
      const __mmask8 on = _mm512_test_epi64_mask(mv, mv);
      _mm256_mask_compressstoreu_epi32(keys + n, on, _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(t)),
                                                                      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
      n += static_cast<size_t>(__builtin_popcount(on));
    }
  }
  for (; t < p.tokens; ++t)
    if (!m || m[t] != 0) keys[n++] = static_cast<uint32_t>(t);
  const bool uniform = n == 0;
  if (uniform) {
    for (size_t t = 0; t < p.tokens; ++t) keys[t] = static_cast<uint32_t>(t);
    n = p.tokens;
  }
  const size_t np = (n + 31) / 32 * 32, dp = (D + 31) / 32 * 32, dv = (D + 15) / 16 * 16;

  // V of the attended keys in pairs of keys: vt[i][c] = {V[keys[2i]][c], V[keys[2i + 1]][c]}, the padding 0.
  uint32_t* vt = Grow(s.vt, np / 2 * dv);
  {
    const float* v0 = p.v + T0 * p.v_stride + h * D;
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (size_t i = 0; i < np / 2; ++i) {
      const float* a = 2 * i < n ? v0 + keys[2 * i] * p.v_stride : nullptr;
      const float* c1 = 2 * i + 1 < n ? v0 + keys[2 * i + 1] * p.v_stride : nullptr;
      for (size_t c = 0; c < dv; c += 16) {
        const __mmask16 lanes = c < D ? Lanes(D - c) : 0;
        const __m512 x = a ? _mm512_maskz_loadu_ps(lanes, a + c) : _mm512_setzero_ps();
        const __m512 y = c1 ? _mm512_maskz_loadu_ps(lanes, c1 + c) : _mm512_setzero_ps();
        const __m512bh pairs = _mm512_cvtne2ps_pbh(_mm512_permutex2var_ps(x, hi, y), _mm512_permutex2var_ps(x, lo, y));
        _mm512_storeu_si512(vt + i * dv + c, reinterpret_cast<const __m512i&>(pairs));
      }
    }
  }

  if (!uniform) {
    // K (+ its bias) rounded row by row ([np, dp], the padding rows 0), then gathered 16 keys at a time into pairs
    // of head columns: kt[i][j] = {K[keys[j]][2i], K[keys[j]][2i + 1]}.
    const float* bk = p.bias ? p.bias + HD + h * D : nullptr;
    uint32_t* kt = Grow(s.kt, dp / 2 * np);
    uint16_t* kr = Grow(s.kr, np * dp);
    const float* k0 = p.k + T0 * p.k_stride + h * D;
    for (size_t j = 0; j < n; ++j) RoundRow(k0 + keys[j] * p.k_stride, bk, D, kr + j * dp, dp);
    std::memset(kr + n * dp, 0, (np - n) * dp * sizeof(uint16_t));
    const __m512i lanes16 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i lane_rows = _mm512_mullo_epi32(lanes16, _mm512_set1_epi32(static_cast<int>(dp / 2)));
    for (size_t j0 = 0; j0 < np; j0 += 16) {
      const void* base = kr + j0 * dp;
      for (size_t i = 0; i < dp / 2; ++i) {
        const __m512i idx = _mm512_add_epi32(lane_rows, _mm512_set1_epi32(static_cast<int>(i)));
        _mm512_storeu_si512(kt + i * np + j0, _mm512_i32gather_epi32(idx, base, 4));
      }
    }
  }

  for (size_t r = 0; r < rows; r += kBf16PassRows)
    RunBlock(k, p, s, b, h, row0 + r, std::min(kBf16PassRows, rows - r), n, uniform);
}

}  // namespace

Bf16Products Avx512Bf16Products() { return {&Scores, &Pv}; }
Bf16TaskFn Bf16Task() { return &RunTask; }

}  // namespace winnow::attention::internal

#else

namespace winnow::attention::internal {
Bf16Products Avx512Bf16Products() { return {}; }
Bf16TaskFn Bf16Task() { return nullptr; }
}  // namespace winnow::attention::internal

#endif
