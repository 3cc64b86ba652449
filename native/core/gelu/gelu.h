// GELU with an optional bias, vectorized: y = gelu(x + bias) over rows of `cols` floats.
//
// kErf: 0.5·x·(1 + erf(x/√2)) (PyTorch's nn.GELU(), transformers' "gelu"), evaluated as x·(0.5 + 0.5·erf(x/√2))
// with erf(x/√2) a rational function x·N(x²)/D(x²) on |x| <= 5.8, clamped to [-1, 1] (±1 beyond, where
// erf rounds to ±1), fitted by scripts/gelu-coefficients.py. Its error is absolute, as in a float
// 0.5·x·(1 + erf(x/√2)) (PyTorch's, ONNX Runtime's): within 4 ulp + 2^-22·|x| of the exact function.
// kTanh: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) ("gelu_new", "gelu_pytorch_tanh"), evaluated as
// x / (1 + exp(-2u)), the same function, within 16 ulp; exp's polynomial on [-ln2/2, ln2/2] is fitted by the
// same script. gelu(NaN) is NaN, gelu(+inf) = +inf, gelu(-inf) is NaN, as in ONNX Runtime's and PyTorch's Gelu
// (-inf · 0).
#pragma once

#include <cstddef>

#include "common/cpu_features.h"

namespace winnow::gelu {

enum class Form { kErf, kTanh };

struct Rows {
  const float* input = nullptr;  // [rows, cols]
  const float* bias = nullptr;   // [cols], added first (one rounding, as the graph's Add); nullptr: none
  float* output = nullptr;       // [rows, cols]; may be `input`
  size_t cols = 0;
  Form form = Form::kErf;
};

// Rows [begin, end), at the process's SIMD level (cpu_features.h).
void Gelu(const Rows& rows, size_t begin, size_t end);
// The same at a given level (tests, microbench); a level this CPU or build lacks runs the portable code.
void GeluAt(SimdLevel level, const Rows& rows, size_t begin, size_t end);
// The instructions Gelu runs in this process: "avx512", "avx2", "neon", "sse2" or "scalar" (runtimeInfo().kernels).
const char* ActiveKernelName();

namespace internal {
struct Kernels {
  void (*gelu)(const Rows& rows, size_t begin, size_t end) = nullptr;
};
Kernels Avx512Kernels();  // empty when not compiled in (non-x86)
Kernels Avx2Kernels();    // empty when not compiled in (non-x86)
Kernels Vec128Kernels();  // 4 lanes of the compiler's generic vectors: NEON on aarch64, SSE2 on x86-64
}  // namespace internal

}  // namespace winnow::gelu
