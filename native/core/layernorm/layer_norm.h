// Layer normalization with ONNX Runtime 1.29's CPU arithmetic, bit for bit, but fast.
//
// ONNX Runtime's CPU LayerNormalization kernel (what a LayerNormalization node, or the decomposed
// ReduceMean / Sub / Pow / Sqrt / Div form it fuses into one, runs as) takes each row's mean and variance
// with Welford's online update, one row at a time:
//   mean += (x_k - mean) / k;  m2 += (x_k - mean_before) * (x_k - mean_after)     (k = 1 .. cols)
//   sd = sqrt(m2 / cols + epsilon);  y = (x - mean) / sd * gamma + beta
// Each step waits on a division, so a 384-wide row costs thousands of cycles (a large share of an int8 graph's
// time, docs/benchmark.md). The same float operations in the same order, done for 8
// (AVX2) or 16 (AVX-512) rows at once — one row per vector lane, the rows transposed in registers — give the
// same bits many times faster (NEON: 4 rows). These files are built with -ffp-contract=off: the compiler may
// contract nothing, and the code fuses a multiply-add exactly where ONNX Runtime's own build does.
//
// That differs by architecture. ONNX Runtime's x86-64 library does every step above as written. Its aarch64
// library (built by a compiler that contracts by default) fuses two: m2 = fma(x_k - mean_before, x_k - mean_after,
// m2) and, with a bias, y = fma((x - mean) / sd, gamma, beta). Found by running the arm64 library under qemu
// (scripts/arm64.mjs), where the x86 arithmetic missed in the last bit and this one matched every element.
//
// Found by probing ONNX Runtime 1.29 with rows whose sums expose the accumulation order and with its optional
// Mean / InvStdDev outputs (test/layer-norm probe in native/tests/layer_norm_test.cc checks it against the
// library itself).
#pragma once

#include <cstddef>

#include "common/cpu_features.h"

namespace winnow::layernorm {

// Whether this build reproduces ONNX Runtime's aarch64 arithmetic (the two fused multiply-adds above).
#if defined(__aarch64__)
inline constexpr bool kOrtFusesMulAdd = true;
#else
inline constexpr bool kOrtFusesMulAdd = false;
#endif

// Rows of `cols` floats. The normalized rows are (input + bias) + skip, in that order (the graph's Add(Add(MatMul,
// bias), residual), so the same bits), each term when given; `skip_rows` of them repeat down the rows (row r adds skip
// row r % skip_rows: a [1, S, H] skip under a [B, S, H] input). `sum`, when given, receives that sum (pre-norm models
// read it again). `output` may be `input` (normalized in place).
struct Rows {
  const float* input = nullptr;
  const float* bias = nullptr;  // [cols]: a linear layer's bias, added to every input row before the skip
  const float* skip = nullptr;
  size_t skip_rows = 0;
  const float* gamma = nullptr;
  const float* beta = nullptr;  // nullptr: no bias
  float* output = nullptr;
  float* sum = nullptr;
  size_t cols = 0;
  float epsilon = 1e-5f;
  // true: ONNX Runtime's Welford arithmetic, bit for bit (above). false: two passes over each row (sum, then squared
  // deviations) and a multiply by 1/sd, several times faster, within float rounding of the exact form (graphs Winnow
  // builds itself, which promise 1e-5 of the reference, not ONNX Runtime's bits).
  bool exact = true;
};

// Rows [begin, end), at the process's SIMD level (cpu_features.h). Callers split work in chunks of kChunkRows.
inline constexpr size_t kChunkRows = 64;
void LayerNorm(const Rows& rows, size_t begin, size_t end);
// The same at a given level (tests); a level this CPU or build lacks runs the scalar level's code (on x86-64 the
// SSE2 4-lane kernel, on other CPUs internal::LayerNormScalar).
void LayerNormAt(SimdLevel level, const Rows& rows, size_t begin, size_t end);
// The instructions LayerNorm runs in this process: "avx512", "avx2", "neon", "sse2" or "scalar".
const char* ActiveKernelName();

namespace internal {
using Kernel = void (*)(const Rows& rows, size_t begin, size_t end);
void LayerNormScalar(const Rows& rows, size_t begin, size_t end);
Kernel Avx2Kernel();    // nullptr when not compiled in (non-x86)
Kernel Avx512Kernel();  // nullptr when not compiled in (non-x86)
Kernel Vec128Kernel();  // 4 lanes, the compiler's generic vectors: NEON on aarch64 (the neon level), SSE2 on x86-64
}  // namespace internal

}  // namespace winnow::layernorm
