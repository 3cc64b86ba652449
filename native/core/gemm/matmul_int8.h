// C = A B + bias (then GELU, optionally) with B a constant int8 weight quantized per output column and A quantized
// per row to int8 as the product runs, on AMX (tdpbssd into 16 x 16 int32 tiles) or, without AMX-INT8, on
// AVX512-VNNI (vpdpbusd) or AVX2 (vpmaddwd): the same int32 sums, so the same bits. The arithmetic, exactly:
//
//   per row i of A [m, k]:  amax_i = max_k |a[i][k]|;  s_i = amax_i / 127;  inv_i = min(127 / amax_i, FLT_MAX)
//                           q[i][k] = clamp(round_half_even(a[i][k] · inv_i), -127, 127)    (float32 throughout)
//                           a zero row: s_i = 0, every q 0; a row holding NaN or ±Inf: every output NaN
//   per output:             acc = Σ_k q[i][k] · w[k][n]  (exact, int32)
//                           C[i][n] = fma(float(acc), s_i · s_w[n], bias[n] or 0)  (float(acc) rounds to nearest even)
//   epilogue:               with one, C = fma(float(acc), s_i · s_w[n], 0) and the bias goes to it: gelu(C + bias)
//                           (gelu/gelu.h, erf or tanh form), or a layer norm of (C + bias) + skip (gemm/epilogue.h),
//                           the bits of the product followed by a separate BiasGelu or LayerNorm
//
// MatMulInt8Reference computes the same one element at a time (the tests' oracle).
//
// Packed layout: B's columns in panels of 32, K padded with zeros to a multiple of 64. For amx and vnni a panel holds
// K/4 rows of 32 column quads: element (kq, n) is {B[4kq][n] .. B[4kq + 3][n]}, 128 bytes a row, the layout tdpbssd
// takes as a 16 x 64-byte tile (16 columns). For avx2 it holds K/2 rows of 32 column pairs widened to int16:
// element (kp, n) is {B[2kp][n], B[2kp + 1][n]}, the operand of vpmaddwd. The scales are padded with zeros to whole
// panels.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/cache_line.h"
#include "gelu/gelu.h"
#include "gemm/epilogue.h"

namespace winnow::gemm {

enum class Int8Isa : int { kNone = 0, kAmx = 1, kVnni = 2, kAvx2 = 3 };

// "none", "amx", "vnni", "avx2".
const char* Int8IsaName(Int8Isa isa);
// True when this build has the kernel and this CPU and OS run it: for amx and vnni AVX-512 F/BW/VL/DQ with ZMM
// state, and AMX-TILE and AMX-INT8 with tile state and Linux's permission for tile data (matmul_bf16.h
// internal::AmxPermitted), or AVX512-VNNI; for avx2 AVX2 and FMA with YMM state.
bool CpuSupportsInt8(Int8Isa isa);
// The kernel this process uses: amx where supported; else vnni where supported; else avx2 on a CPU with AVX2 but
// neither AVX512-VNNI nor AVX-VNNI (where ONNX Runtime's u8 x s8 kernel can saturate); else none.
// WINNOW_INT8_KERNEL (read once) = onnxruntime says none, = vnni or = avx2 asks for that kernel (none where
// unsupported).
Int8Isa ActiveInt8Isa();
// True on an x86-64 CPU with neither AMX-INT8 nor any VNNI (AVX512-VNNI, AVX-VNNI): there ONNX Runtime's u8 x s8
// integer kernels (DynamicQuantizeMatMul, MatMulInteger) add pairs of products in int16 with saturation
// (vpmaddubsw), so their sums are not always exact.
bool OnnxRuntimeInt8Saturates();
// The CPU features the int8 kernel needs, for messages.
inline constexpr const char kInt8Requirement[] =
    "AMX-INT8 (Intel Sapphire Rapids or later), AVX512-VNNI (AMD Zen 4 or later, Intel Cascade Lake or later) or AVX2";

inline constexpr size_t kInt8PanelCols = 32;  // columns per packed panel
inline constexpr size_t kInt8BlockK = 64;     // K is padded to a multiple of this
inline constexpr size_t kInt8BlockRows = 32;  // rows of A per task
// The longest K whose int32 sums cannot overflow: 127 · 127 · K < 2^31.
inline constexpr size_t kInt8MaxK = 133144;

enum class Activation : int { kNone = 0, kGelu = 1, kGeluTanh = 2 };

class PackedInt8Weights {
 public:
  PackedInt8Weights() = default;
  // b: [k, n] int8, row-major; scale: [n]; laid out for the kernel of `isa` (the avx2 layout for avx2, else quads).
  PackedInt8Weights(const int8_t* b, const float* scale, size_t k, size_t n, Int8Isa isa);
  size_t k() const { return k_; }
  size_t n() const { return n_; }
  size_t k_pad() const { return k_pad_; }
  size_t panels() const { return (n_ + kInt8PanelCols - 1) / kInt8PanelCols; }
  bool wide() const { return wide_; }  // the avx2 layout (int16 pairs)
  size_t panel_bytes() const { return k_pad_ * kInt8PanelCols * (wide_ ? 2 : 1); }
  // Panel p: k_pad / 4 rows of kInt8PanelCols quads, or k_pad / 2 rows of int16 pairs (wide).
  // 64-byte aligned (as are its rows).
  const int8_t* panel(size_t p) const { return data_.data() + p * panel_bytes(); }
  const float* scale() const { return scale_.data(); }  // [panels() * kInt8PanelCols], zero past n
  const int32_t* col_sum() const { return col_sum_.data(); }  // Σ_k B[k][n], [panels() * kInt8PanelCols] (vnni)

 private:
  size_t k_ = 0, n_ = 0, k_pad_ = 0;
  bool wide_ = false;
  CacheLineVector<int8_t> data_;
  std::vector<float> scale_;
  std::vector<int32_t> col_sum_;
};

// One product, split into tasks (a block of kInt8BlockRows rows of A by a group of panels) that may run on any threads.
struct Int8Gemm {
  Int8Isa isa = Int8Isa::kNone;
  const PackedInt8Weights* b = nullptr;
  const float* a = nullptr;     // [m, k]
  const float* bias = nullptr;  // [n] or nullptr
  float* c = nullptr;           // [m, n]
  size_t m = 0;
  Epilogue epilogue;  // after the bias: GELU or a layer norm (whose tasks are then whole rows)
  size_t row_blocks = 0, col_groups = 0, panels_per_group = 0;

  size_t tasks() const { return row_blocks * col_groups; }
};
Int8Gemm PlanInt8Gemm(Int8Isa isa, const PackedInt8Weights& b, const float* a, const float* bias, float* c, size_t m,
                      const Epilogue& epilogue, size_t min_tasks = 16);
Int8Gemm PlanInt8Gemm(Int8Isa isa, const PackedInt8Weights& b, const float* a, const float* bias, float* c, size_t m,
                      Activation activation, size_t min_tasks = 16);
// The GELU epilogue of an activation (none: no epilogue).
Epilogue GeluEpilogue(Activation activation);
// Runs one task; writes nothing when this CPU cannot run `isa` (CpuSupportsInt8) or B is laid out for another.
void RunInt8Task(const Int8Gemm& g, size_t task);
// All tasks on this thread.
void MatMulInt8(Int8Isa isa, const PackedInt8Weights& b, const float* a, const float* bias, float* c, size_t m,
                Activation activation);

// The arithmetic above one element at a time (tests); b: [k, n] int8, scale: [n].
void MatMulInt8Reference(const float* a, const int8_t* b, const float* scale, const float* bias, float* c, size_t m,
                         size_t k, size_t n, Activation activation);
// Row i of A quantized as above: q [k], returns s_i (NaN for a row holding NaN or ±Inf, q then all 0).
float QuantizeRowReference(const float* a, size_t k, int8_t* q);

namespace internal {
// Quantizes rows x k of A (row stride k) into `q` (row stride k_pad, columns k..k_pad zero) and the rows' s_i into
// `row_scale`.
using QuantizeFn = void (*)(const float* a, size_t rows, size_t k, int8_t* q, size_t k_pad, float* row_scale);
// For each of `count` panels from `first` (panel_stride bytes apart): a kInt8BlockRows x kInt8PanelCols block of A
// (rows of it valid, row stride k_pad) times the panel, dequantized with row_scale and the panel's column scales,
// biased as above and written into C's valid rows and columns. The activation is the caller's, after the tiles are
// released (AVX-512 code runs slower while tile data is live).
struct Int8BlockArgs {
  const int8_t* a = nullptr;
  size_t rows = 0, k_pad = 0;
  const float* row_scale = nullptr;  // [rows]
  const int8_t* first = nullptr;
  size_t panel_stride = 0;
  size_t count = 0;
  const float* col_scale = nullptr;  // the first panel's, kInt8PanelCols per panel (zero past n)
  const int32_t* col_sum = nullptr;   // the first panel's column sums of B, likewise
  const float* bias = nullptr;       // the first panel's first column, or nullptr
  size_t n_left = 0;                 // columns from the first panel's first to n (how many bias and c hold)
  float* c = nullptr;                // C at the block's first row and the first panel's first column
  size_t ldc = 0;                    // C's row stride (n)
};
using Int8BlockFn = void (*)(const Int8BlockArgs& args);
struct Int8Kernels {
  QuantizeFn quantize = nullptr;
  Int8BlockFn block = nullptr;
};
Int8Kernels AmxInt8Kernels();   // empty when not compiled in (non-x86)
Int8Kernels VnniInt8Kernels();  // empty when not compiled in (non-x86)
Int8Kernels Avx2Int8Kernels();  // empty when not compiled in (non-x86)
// This thread's buffer for a block of quantized A, at least kInt8BlockRows x k_pad, 64-byte aligned.
int8_t* QuantizeScratch(size_t k_pad);
// A quantizer's scale for one row from max |a| as a float's bit pattern (NaN and ±Inf sort above every finite
// value): false for a row holding NaN or ±Inf (scale NaN) or a zero row (scale 0), whose k_pad bytes are then
// zeroed; else true, with inv = min(127 / amax, FLT_MAX) to multiply the row by.
inline bool RowScale(uint32_t max_bits, int8_t* out, size_t k_pad, float* scale, float* inv) {
  if (max_bits >= 0x7f800000u || max_bits == 0) {
    std::memset(out, 0, k_pad);
    *scale = max_bits ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    return false;
  }
  float amax;
  std::memcpy(&amax, &max_bits, sizeof(amax));
  *inv = std::min(127.0f / amax, FLT_MAX);
  *scale = amax / 127.0f;
  return true;
}
}  // namespace internal

}  // namespace winnow::gemm
