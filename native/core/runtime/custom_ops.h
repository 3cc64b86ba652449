// Winnow's own ONNX Runtime operators (CPU), registered in every session's options under kCustomDomain.
//
// com.winnow LayerNorm: inputs (input, skip?, gamma, beta?), attribute epsilon (float, default 1e-5);
// outputs (output, sum?). Normalizes the last axis of input + skip (skip broadcast down the rows when it has
// fewer, e.g. [1, S, H] under [B, S, H]; either operand may be the larger), exactly as ONNX Runtime 1.29's CPU
// LayerNormalization kernel would normalize Add(input, skip), bit for bit, but vectorized across rows
// (layernorm/layer_norm.h). `sum` is input + skip, for pre-norm models that read it again. Float32 only.
//
// com.winnow MatMulBf16: runtime/matmul_bf16_op.h.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/ort_runtime.h"

namespace winnow::rt {

inline constexpr const char kCustomDomain[] = "com.winnow";
inline constexpr const char kLayerNormOp[] = "LayerNorm";

// The process-wide domain holding Winnow's operators (created on first use, never freed: sessions refer to it).
OrtCustomOpDomain* CustomOpDomain();

// Each operator's name and the instructions its kernel runs in this process ("avx512", "avx2", "neon", ...), chosen
// at run time from the CPU (and WINNOW_SIMD): runtimeInfo().kernels.
std::vector<std::pair<std::string, std::string>> OperatorKernels();

}  // namespace winnow::rt
