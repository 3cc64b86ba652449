// attention.h at AVX-512 (with FMA): 16 lanes.
#include "attention/attention.h"

#include <algorithm>

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

#include "attention/attention_v512.inc"

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
