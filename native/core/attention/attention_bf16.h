// attention.h's problem with its two products on the CPU's bf16 instructions (AMX-BF16 tiles or AVX512-BF16 dot
// products, the kernels of gemm/matmul_bf16.h), for the bf16 and int8 sessions. Per task (attention.h's: batch row,
// head, kBlockRows query rows), K and V rounded once, the rows in passes of kBf16PassRows:
//   - Q (+ its bias) and the attended keys' K (+ its bias) rounded to bf16; scores Q·Kᵀ summed in float32, times
//     scale in float32; masked keys skipped and a row with no key weighting every key alike, as attention.h does;
//   - softmax in float32 (attention.h's exp): e = exp(s - max) and 1 / sum(e) in float32, e rounded to bf16;
//   - P·V with V rounded to bf16 and float32 sums, times 1 / sum in float32, plus V's bias in float32.
// Keys and head columns are padded with zeros to the tile shapes. No bf16 path outside x86-64.
#pragma once

#include <cstddef>
#include <cstdint>

#include "attention/attention.h"
#include "gemm/matmul_bf16.h"

namespace winnow::attention {

// Task `task` (0 .. TaskCount(p) - 1, attention.h's tasks) on the bf16 kernel this process uses
// (gemm::ActiveBf16Isa, so WINNOW_BF16_KERNEL=amx|avx512bf16|none too); writes nothing when ActiveBf16KernelName() is
// "none". A problem with a window, relative terms, rotary or query_mask (Problem) runs the float32 kernel (RunTask).
void RunTaskBf16(const Problem& p, size_t task);
// The same on a given kernel (tests); writes nothing when this CPU or build cannot run it.
void RunTaskBf16At(gemm::Bf16Isa isa, const Problem& p, size_t task);
// "amx", "avx512bf16" or "none": the kernel RunTaskBf16 uses.
const char* ActiveBf16KernelName();

namespace internal {
// Query rows per pass of a task (the scores scratch is [kBf16PassRows, keys]).
inline constexpr size_t kBf16PassRows = 64;
// The two products of one task on bf16 operands with float32 sums (rows16: a multiple of 16 rows).
struct Bf16Products {
  // scores[r][j] (row stride np) = Σ_d q[r][d] k[j][d]: q [rows16, dp] bf16 (dp a multiple of 32), kt [dp / 2, np]
  // pairs {k[j][2i], k[j][2i + 1]} (np a multiple of 32).
  void (*scores)(const uint16_t* q, size_t rows16, size_t dp, const uint32_t* kt, size_t np, float* scores) = nullptr;
  // out[r][c] (row stride dv) = Σ_j p[r][j] v[j][c]: p [rows16, np] bf16, vt [np / 2, dv] pairs
  // {v[2i][c], v[2i + 1][c]} (dv a multiple of 16).
  void (*pv)(const uint16_t* p, size_t rows16, size_t np, const uint32_t* vt, size_t dv, float* out) = nullptr;
};
Bf16Products Avx512Bf16Products();  // empty when not compiled in (non-x86)
Bf16Products AmxProducts();         // empty when not compiled in
// Rounds, softmaxes and writes one task around `products`; nullptr when not compiled in (non-x86).
using Bf16TaskFn = void (*)(const Bf16Products& products, const Problem& p, size_t task);
Bf16TaskFn Bf16Task();
}  // namespace internal

}  // namespace winnow::attention
