// GELU with an optional bias, vectorized: y = gelu(x + bias) over rows of `cols` floats.
//
// kErf: 0.5·x·(1 + erf(x/√2)) (PyTorch's nn.GELU(), transformers' "gelu"). 1 + erf(z) is computed directly: as
// 1 + erf(z) for |z| < 0.875 (erf there is z + z·P(z²)), and from erfc(|z|) = exp(G(|z|) - z²) beyond, as 2 - erfc
// for z > 0 and erfc itself for z < 0, so the negative tail loses nothing to 1 + (-1 + tiny). erfc is taken as 0
// for |z| > 4, where erf rounds to ±1. kTanh: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) ("gelu_new",
// "gelu_pytorch_tanh"), evaluated as x / (1 + exp(-2u)), the same function. The polynomials (P, G, and exp's on
// [-ln2/2, ln2/2]) are least-squares fits on Chebyshev nodes with float coefficients
// (scripts/gelu-coefficients.py). gelu(NaN) is NaN, gelu(+inf) = +inf, gelu(-inf) is NaN, as in ONNX Runtime's and
// PyTorch's Gelu (-inf · 0).
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
// erf(x) for n floats with the kernels' arithmetic at `level` (tests measure its error against std::erf).
void ErfAt(SimdLevel level, const float* x, float* y, size_t n);
// The instructions Gelu runs in this process: "avx512", "avx2", "neon", "sse2" or "scalar" (runtimeInfo().kernels).
const char* ActiveKernelName();

namespace internal {
struct Kernels {
  void (*gelu)(const Rows& rows, size_t begin, size_t end) = nullptr;
  void (*erf)(const float* x, float* y, size_t n) = nullptr;
};
Kernels Avx512Kernels();  // empty when not compiled in (non-x86)
Kernels Avx2Kernels();    // empty when not compiled in (non-x86)
Kernels Vec128Kernels();  // 4 lanes of the compiler's generic vectors: NEON on aarch64, SSE2 on x86-64
}  // namespace internal

}  // namespace winnow::gelu
