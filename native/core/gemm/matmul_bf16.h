// C = A B (+ bias) with A and B rounded to bfloat16 and the products summed in float32, on the CPU's bf16
// instructions: AMX (tdpbf16ps on 16 x 16 float tiles) or AVX512-BF16 (vdpbf16ps). B is a constant weight, rounded
// and packed once (PackedBf16Weights); A is rounded block by block into per-thread scratch as the product runs.
//
// Packed layout (both instruction sets read it): B's columns in panels of 32, K padded with zeros to a multiple of
// 32. A panel holds K/2 rows of 32 column pairs: element (kp, n) is {B[2kp][n], B[2kp + 1][n]}, 128 bytes a row,
// the "VNNI" pair layout that vdpbf16ps takes 16 columns of and tdpbf16ps takes as a 16 x 64-byte tile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/cache_line.h"
#include "gemm/epilogue.h"

namespace winnow::gemm {

enum class Bf16Isa : int { kNone = 0, kAvx512Bf16 = 1, kAmx = 2 };

// "none", "avx512bf16", "amx".
const char* Bf16IsaName(Bf16Isa isa);
// True when this build has the kernel and this CPU and OS run it: avx512bf16: AVX-512 F/BW/VL/DQ + AVX512_BF16 with
// ZMM state; amx: those + AMX-TILE + AMX-BF16, with Linux's permission for tile data (arch_prctl
// ARCH_REQ_XCOMP_PERM, requested once per process).
bool CpuSupportsBf16(Bf16Isa isa);
// The kernel this process uses: the best supported one, or a lower one forced by WINNOW_BF16_KERNEL=amx|avx512bf16|
// none (read once). kNone when the CPU has neither.
Bf16Isa ActiveBf16Isa();
// The CPU features a bf16 kernel needs, for messages.
inline constexpr const char kBf16Requirement[] = "AMX-BF16 or AVX512-BF16 (Intel Cooper Lake / Sapphire Rapids or "
                                                 "later, AMD Zen 4 or later)";

// float32 -> bfloat16, round to nearest even; NaN stays NaN (quieted, sign kept); overflow rounds to infinity.
uint16_t RoundToBf16(float x);
float Bf16ToFloat(uint16_t h);

inline constexpr size_t kPanelCols = 32;  // columns per packed panel
inline constexpr size_t kBlockK = 32;     // K is padded to a multiple of this
inline constexpr size_t kBlockRows = 32;  // rows of A per task

class PackedBf16Weights {
 public:
  PackedBf16Weights() = default;
  // b: [k, n] float32, row-major.
  PackedBf16Weights(const float* b, size_t k, size_t n);
  size_t k() const { return k_; }
  size_t n() const { return n_; }
  size_t k_pad() const { return k_pad_; }
  size_t panels() const { return (n_ + kPanelCols - 1) / kPanelCols; }
  // Panel p: k_pad / 2 rows of kPanelCols pairs.
  const uint16_t* panel(size_t p) const { return data_.data() + p * k_pad_ * kPanelCols; }

 private:
  size_t k_ = 0, n_ = 0, k_pad_ = 0;
  CacheLineVector<uint16_t> data_;  // 64-byte aligned: tile rows are cache lines
};

// One product, split into tasks (a block of kBlockRows rows of A by a group of panels) that may run on any threads.
struct Bf16Gemm {
  Bf16Isa isa = Bf16Isa::kNone;
  const PackedBf16Weights* b = nullptr;
  const float* a = nullptr;     // [m, k]
  const float* bias = nullptr;  // [n] or nullptr
  float* c = nullptr;           // [m, n]
  size_t m = 0;
  size_t row_blocks = 0, col_groups = 0, panels_per_group = 0;
  Epilogue epilogue;

  size_t tasks() const { return row_blocks * col_groups; }
};
// The tasks for an m-row product: enough of them to share among threads (`min_tasks` at least, when the shape
// allows). A layer-norm epilogue needs whole rows: its tasks are row blocks only.
Bf16Gemm PlanBf16Gemm(Bf16Isa isa, const PackedBf16Weights& b, const float* a, const float* bias, float* c, size_t m,
                      size_t min_tasks = 16, const Epilogue& epilogue = {});
// Runs one task; writes nothing when this CPU cannot run `isa` (CpuSupportsBf16).
void RunBf16Task(const Bf16Gemm& g, size_t task);
// All tasks on this thread.
void MatMulBf16(Bf16Isa isa, const PackedBf16Weights& b, const float* a, const float* bias, float* c, size_t m,
                const Epilogue& epilogue = {});

// The same arithmetic one element at a time (tests): operands rounded by RoundToBf16, products summed in float32
// in order of k, then the bias added.
void MatMulBf16Reference(const float* a, const float* b, const float* bias, float* c, size_t m, size_t k, size_t n);

namespace internal {
// Writes rows x k of A (row stride k) as bf16 into `out` (row stride k_pad, columns k..k_pad zero).
using ConvertFn = void (*)(const float* a, size_t rows, size_t k, uint16_t* out, size_t k_pad);
// For each of `count` panels from `first` (panel_stride elements apart): a kBlockRows x kPanelCols float block of
// A (rows of it valid, row stride k_pad) times the panel. A whole block (kBlockRows rows, kPanelCols columns of C)
// goes straight into C, then gets the bias added (the reference's order); any other is handed to
// store(ctx, i, block) (row stride kPanelCols), which writes its valid part.
using StoreFn = void (*)(const void* ctx, size_t i, const float* block);
struct BlockOut {
  float* c = nullptr;           // C at the block's first row, first panel's first column
  size_t ldc = 0;               // C's row stride (n)
  const float* bias = nullptr;  // the bias from the first panel's first column, or nullptr
  size_t cols = 0;              // C's columns from the first panel's first on
  StoreFn store = nullptr;
  const void* ctx = nullptr;
};
using BlockFn = void (*)(const uint16_t* a, size_t rows, size_t k_pad, const uint16_t* first, size_t panel_stride,
                         size_t count, const BlockOut& out);
struct Kernels {
  ConvertFn convert = nullptr;
  BlockFn block = nullptr;
};
Kernels Avx512Bf16Kernels();  // empty when not compiled in (non-x86)
Kernels AmxKernels();         // empty when not compiled in
bool AmxPermitted();          // Linux granted this process tile data (asked once)
}  // namespace internal

}  // namespace winnow::gemm
